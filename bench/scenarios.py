"""Scenarios 1 and 2: the warm promoter, the git floor and a fresh clone per update, one cycle each.

All three push to their own copy of the same generated repo over file://, and run in turn so
that the machine's noise falls on each alike.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.repos import TARGET, TARGET_PATH, build_repo, fresh_copy
from bench.stats import Figure, measure
from promoter.events import from_envelope
from promoter.service import promote
from promoter.settings import Settings

GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
WARMUP = 2
BUILD_MINUTES = timedelta(minutes=10)
Edit = Callable[[str, int], str]  # a file's text and the cycle's number -> its new text


class Clock:
    """Build creation times that only move forward, so that every event promotes.

    They start a few minutes ago, as a build's would: the promoter searches the history since
    a build's creation for reverts of it, so the times decide how much history it reads.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime.now(UTC) - BUILD_MINUTES
        self.n = 0

    def next(self) -> str:
        self.n += 1
        when = self.start + timedelta(milliseconds=self.n)
        return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_body(image: str, clock: Clock) -> dict[str, Any]:
    """A successful Build resource for `image` with a fresh id and digest."""
    return {
        "id": str(uuid.uuid4()),
        "status": "SUCCESS",
        "createTime": clock.next(),
        "results": {
            "images": [{"name": f"{image}:b{clock.n}", "digest": "sha256:" + uuid.uuid4().hex * 2}]
        },
    }


def run_warm(root: Path, *, label: str, files: int, commits: int, runs: int) -> dict[str, Any]:
    """Scenarios 1 and 2 on one generated repo: figures and the ratios of their medians."""
    generated = build_repo(root, files=files, commits=commits)
    cycles = {
        "promoter": promoter_cycle(fresh_copy(generated, root / f"{label}-p"), root / f"{label}-w"),
        "floor": floor_cycle(fresh_copy(generated, root / f"{label}-f"), root / f"{label}-c"),
        "fresh_clone": fresh_clone_cycle(fresh_copy(generated, root / f"{label}-a")),
    }
    figures = measure(cycles, warmup=WARMUP, runs=runs)
    return {
        "files": files,
        "commits": commits,
        **{name: figure.to_json() for name, figure in figures.items()},
        "promoter_over_floor": _ratio(figures["promoter"], figures["floor"]),
        "fresh_clone_over_promoter": _ratio(figures["fresh_clone"], figures["promoter"]),
    }


def _ratio(a: Figure, b: Figure) -> float:
    return a.median / b.median


def promoter_cycle(remote: Path, workdir: Path, clock: Clock | None = None) -> Callable[[], None]:
    """Event in hand -> commit pushed, on a warm workspace, for the builds of `clock`."""
    settings = Settings.build(repo=f"file://{remote}", workdir=str(workdir), environ={})
    clock = clock or Clock()

    def cycle() -> None:
        result = promote(from_envelope(build_body(TARGET, clock)), settings)
        assert result.outcome == "promoted", result

    return cycle


def floor_cycle(
    remote: Path, clone: Path, *, paths: Sequence[str] = (TARGET_PATH,), edit: Edit | None = None
) -> Callable[[], None]:
    """The git binary alone on a warm clone: fetch --depth 1, edit `paths`, commit, push.

    `reset --hard FETCH_HEAD` puts the fetched tip in the work tree: without it the edit would
    not be made on the tip whenever someone else had pushed.
    """
    edit = edit or _pin_target
    _git("clone", "-q", "--depth", "1", "--branch", "main", f"file://{remote}", str(clone))
    counter = iter(range(10**9))
    git = ["-C", str(clone), *GIT_ID]

    def cycle() -> None:
        _git(*git, "fetch", "-q", "--depth", "1", "origin", "main")
        _git(*git, "reset", "-q", "--hard", "FETCH_HEAD")
        n = next(counter)
        for path in paths:
            file = clone / path
            file.write_text(edit(file.read_text(), n))
        _git(*git, "commit", "-q", "-am", "floor")
        _git(*git, "push", "-q", "origin", "HEAD:main")

    return cycle


def fresh_clone_cycle(remote: Path) -> Callable[[], None]:
    """What Argo CD Image Updater does: a fresh shallow clone per update."""
    counter = iter(range(10**9))

    def cycle() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp) / "c"
            _git("clone", "-q", "--depth", "1", "--branch", "main", f"file://{remote}", str(clone))
            _edit(clone / TARGET_PATH, next(counter))
            _git("-C", str(clone), *GIT_ID, "commit", "-q", "-am", "x")
            _git("-C", str(clone), "push", "-q", "origin", "HEAD:main")

    return cycle


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True)


def _edit(path: Path, n: int) -> None:
    path.write_text(_pin_target(path.read_text(), n))


def _pin_target(text: str, n: int) -> str:
    head, _, _ = text.partition(f"image: {TARGET}")
    return f"{head}image: {TARGET}@sha256:{n:064x}  # promoted\n"
