"""Child processes with a deadline: each runs in a process group of its own, and the whole group
(git with its remote helper, ssh or credential helper) is killed when the deadline passes, when
the caller is interrupted, or when the process is told to stop (`stop_all`, on SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promoter.errors import TransientError

_running: set[int] = set()  # process groups of the children running now
_guard = threading.Lock()
_stopping = threading.Event()


class ShuttingDown(TransientError):
    """The process is stopping: the work is given back to be done again elsewhere."""


@dataclass(frozen=True)
class Finished:
    """A child's exit status and output (decoded; undecodable bytes kept as surrogates)."""

    status: int
    out: str
    err: str
    timed_out: bool = False


def run(
    argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str], timeout: float
) -> Finished:
    """Run `argv` to its end or until `timeout` seconds passed (then `timed_out` is True)."""
    check_running()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,  # its own group, in our session: killpg reaches its helpers too
    )
    with _guard:
        _running.add(process.pid)
    child = _Child(process)
    try:
        output = child.finish(timeout)
        timed_out = output is None
        if output is None:
            _kill_group(process.pid)
            output = child.finish(5)  # None: a helper left the group and holds the pipes
        out, err = output or (b"", b"")
    finally:
        child.close()
        # Also when this thread is interrupted (KeyboardInterrupt, SystemExit on SIGTERM). Only
        # while the child is not yet reaped: until then its group's id cannot be reused.
        if process.returncode is None:
            _kill_group(process.pid)
            process.wait()
        with _guard:
            _running.discard(process.pid)
    check_running()  # stopped while it ran: its result is not to be trusted
    return Finished(
        process.returncode,
        _text(out, "surrogateescape"),
        _text(err, "replace"),
        timed_out,
    )


class _Child:
    """A child's output read to its end and its exit awaited, within a deadline.

    On Linux the exit is awaited on a pidfd beside the pipes. `communicate(timeout=...)` polls
    for it with sleeps of 1 ms, then 2, 4...; git most often exits microseconds after closing its
    output, so that a git process could cost a millisecond or more of sleep. Where there is no
    pidfd (an older kernel, a sandbox), `communicate` waits.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._output: dict[int, list[bytes]] = {
            process.stdout.fileno(): [],
            process.stderr.fileno(): [],
        }
        try:
            self._pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        self._open = {*self._output, *([] if self._pidfd is None else [self._pidfd])}

    def finish(self, timeout: float) -> tuple[bytes, bytes] | None:
        """Its stdout and stderr once both ended and it exited; None if `timeout` passed first."""
        if self._pidfd is None:
            try:
                return self._process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = time.monotonic() + timeout
        with selectors.PollSelector() as selector:
            for fd in self._open:
                selector.register(fd, selectors.EVENT_READ)
            while self._open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for key, _ in selector.select(remaining):
                    data = b"" if key.fd == self._pidfd else os.read(key.fd, 65536)
                    if data:
                        self._output[key.fd].append(data)
                    else:  # an output ended, or the child exited
                        selector.unregister(key.fd)
                        self._open.discard(key.fd)
        self._process.wait()  # it exited: reaped at once
        out, err = (b"".join(chunks) for chunks in self._output.values())
        return out, err

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()


def stop_all() -> None:
    """Kill every child running now and refuse to start more: the process is ending."""
    _stopping.set()
    with _guard:
        groups = list(_running)
    for group in groups:
        _kill_group(group)


def check_running() -> None:
    """Raise ShuttingDown once `stop_all` was called."""
    if _stopping.is_set():
        raise ShuttingDown("stopped: the process is shutting down; the message is delivered again")


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _text(data: bytes, errors: str) -> str:
    text = data.decode("utf-8", errors)
    return text[:-1] if text.endswith("\n") else text  # as GitPython strips one newline
