"""Scenarios: the warm promoter, the git floor, and the fresh-clone approach, one cycle each."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.repos import TARGET, TARGET_PATH
from promoter.events import from_envelope
from promoter.service import promote
from promoter.settings import Settings

GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


class Clock:
    """Monotonically newer build times, so every event promotes."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"2030-01-01T00:{self.n // 60 % 60:02d}:{self.n % 60:02d}.{self.n:09d}Z"


def promoter_cycle(remote: Path, workdir: Path) -> Callable[[], None]:
    """Event in hand -> commit pushed, on a warm workspace."""
    settings = Settings.build(repo=f"file://{remote}", workdir=str(workdir), environ={})
    clock = Clock()

    def cycle() -> None:
        build_id = str(uuid.uuid4())
        digest = "sha256:" + uuid.uuid4().hex * 2
        body = {
            "id": build_id,
            "status": "SUCCESS",
            "createTime": clock.next(),
            "results": {"images": [{"name": f"{TARGET}:b{clock.n}", "digest": digest}]},
        }
        result = promote(from_envelope(body), settings)
        assert result.outcome == "promoted", result

    return cycle


def floor_cycle(remote: Path, clone: Path) -> Callable[[], None]:
    """The git binary alone on a warm clone: fetch --depth 1, edit one file, commit, push."""
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "main", f"file://{remote}", str(clone)],
        check=True,
    )
    counter = iter(range(10**9))

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(clone), *GIT_ID, *args], check=True)

    def cycle() -> None:
        git("fetch", "-q", "--depth", "1", "origin", "main")
        git("reset", "-q", "--hard", "FETCH_HEAD")
        _edit(clone / TARGET_PATH, next(counter))
        git("commit", "-q", "-am", "floor")
        git("push", "-q", "origin", "HEAD:main")

    return cycle


def fresh_clone_cycle(remote: Path) -> Callable[[], None]:
    """What Argo CD Image Updater does: a fresh shallow clone per update."""
    counter = iter(range(10**9))

    def cycle() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp) / "c"
            subprocess.run(
                [
                    "git",
                    "clone",
                    "-q",
                    "--depth",
                    "1",
                    "--branch",
                    "main",
                    f"file://{remote}",
                    str(clone),
                ],
                check=True,
            )
            _edit(clone / TARGET_PATH, next(counter))
            subprocess.run(
                ["git", "-C", str(clone), *GIT_ID, "commit", "-q", "-am", "x"], check=True
            )
            subprocess.run(
                ["git", "-C", str(clone), "push", "-q", "origin", "HEAD:main"], check=True
            )

    return cycle


def _edit(path: Path, n: int) -> None:
    text = path.read_text()
    head, _, _ = text.partition(f"image: {TARGET}")
    path.write_text(f"{head}image: {TARGET}@sha256:{n:064x}  # promoted\n")


def measure(cycle: Callable[[], None], *, warmup: int, runs: int) -> list[float]:
    """Seconds per cycle after `warmup` unmeasured cycles."""
    for _ in range(warmup):
        cycle()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        cycle()
        times.append(time.perf_counter() - started)
    return times


def fresh_copy(remote: Path, into: Path) -> Path:
    """A private copy of a generated repo, so scenarios do not share history."""
    copy = into / remote.name
    shutil.copytree(remote, copy)
    return copy
