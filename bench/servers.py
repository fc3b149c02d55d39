"""The processes the end-to-end scenarios run: functions-framework servers and the emulator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.repos import PROJECT_ROOT
from promoter.devloop import free_port, function_command, wait_for_port


@dataclass
class FunctionServer:
    """`functions-framework` serving on_build_event, with its own workdir and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def spawn(cls, *, repo_url: str, workdir: Path, log: Path) -> FunctionServer:
        """Start the server; call `ready()` before sending it anything."""
        port = free_port()
        # functions-framework loads main.py as a package of its own, so `promoter` would come
        # from wherever it is installed: measure this checkout's code, as the other scenarios do.
        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        env = {
            **os.environ,
            "PYTHONPATH": path,
            "PROMOTER_REPO_URL": repo_url,
            "PROMOTER_WORKDIR": str(workdir),
        }
        command = function_command(port)
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(process, port, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def ready(self) -> None:
        wait_for_port(self.port, timeout=60)

    def log_lines(self) -> list[dict[str, Any]]:
        """The promoter's JSON log lines (one per event)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"severity"')]

    def peak_rss_bytes(self) -> int:
        """The largest peak RSS (VmHWM) among the server's processes (gunicorn and its worker)."""
        return max(peak_rss(pid) for pid in [self.process.pid, *_descendants(self.process.pid)])

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # already ended
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def stop_emulator(process: subprocess.Popen[bytes]) -> None:
    """Stop the emulator: gcloud runs java as its child, so signal the whole group."""
    with contextlib.suppress(ProcessLookupError):  # already ended
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def peak_rss(pid: int) -> int:
    """The peak RSS (VmHWM) of process `pid` in bytes, 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
