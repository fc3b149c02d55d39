"""Child processes with a deadline: each runs in a process group of its own, and the whole group
(git with its remote helper, ssh or credential helper) is killed when the deadline passes, when
the caller is interrupted, or when the process is told to stop (`stop_all`, on SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
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
    timed_out = False
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process.pid)
        try:
            out, err = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a helper left the group and holds the pipes
            out, err = b"", b""
    finally:
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
