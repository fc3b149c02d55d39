"""Scenario 7: warm promotion and first event on config repos shaped like real ones (issue 9).

For each shape (bench.shapes) and size: the warm promoter against the git floor making the same
change by hand (every line that holds the target, by a small text replacement), in turn, in the
same run; then the promoter's last commit is checked to change exactly those lines. Then, at one
size per shape, new instances on an empty workdir (bench.coldstart).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.coldstart import new_instances
from bench.repos import fresh_copy, tip
from bench.scenarios import WARMUP, Clock, floor_cycle, promoter_cycle
from bench.shapes import Shape, build_families, build_rendered, pin_by_hand, pin_text
from bench.stats import measure
from promoter.ledger import PATH as LEDGER_PATH

Build = Callable[[Path, int], Shape]
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def run_shapes(
    root: Path,
    *,
    families: Sequence[int],
    rendered_kb: Sequence[int],
    runs: int,
    cold_runs: int,
    cold_at: tuple[int, int],
) -> dict[str, Any]:
    """Both shapes at every size; first events at `cold_at` (families, rendered) if measured."""
    return {
        "families": _run_shape(root, build_families, families, runs, cold_runs, cold_at[0]),
        "rendered": _run_shape(root, build_rendered, rendered_kb, runs, cold_runs, cold_at[1]),
    }


def _run_shape(
    root: Path, build: Build, sizes: Sequence[int], runs: int, cold_runs: int, cold_at: int
) -> dict[str, Any]:
    shapes = [build(root, size) for size in sizes]
    warm = {str(shape.size): _warm(root, shape, runs) for shape in shapes}
    smallest, largest = warm[str(min(sizes))], warm[str(max(sizes))]
    cold = next((s for s in shapes if s.size == cold_at), shapes[0])
    remote = fresh_copy(cold.bare, root / f"{cold.name}-cold")
    first = new_instances(remote, root / f"{cold.name}-cold-work", runs=cold_runs)
    return {
        "sizes": warm,
        "promoter_growth": largest["promoter"]["median"] / smallest["promoter"]["median"],
        "floor_growth": largest["floor"]["median"] / smallest["floor"]["median"],
        "cold": {"size": cold.size, **{name: f.to_json() for name, f in first.items()}},
    }


def _warm(root: Path, shape: Shape, runs: int) -> dict[str, Any]:
    label = f"{shape.name}-{shape.size}"
    remote, clock = fresh_copy(shape.bare, root / f"{label}-p"), Clock()
    cycles = {
        "promoter": promoter_cycle(remote, root / f"{label}-w", clock),
        "floor": floor_cycle(
            fresh_copy(shape.bare, root / f"{label}-f"),
            root / f"{label}-c",
            paths=shape.paths,
            edit=pin_by_hand,
        ),
    }
    figures = measure(cycles, warmup=WARMUP, runs=runs)
    check_last_promotion(remote, shape, tag=f"b{clock.n}")
    return {
        "files": len(shape.paths),
        "lines": shape.lines,
        **{name: figure.to_json() for name, figure in figures.items()},
        "promoter_over_floor": figures["promoter"].median / figures["floor"].median,
    }


def check_last_promotion(remote: Path, shape: Shape, *, tag: str) -> None:
    """Fail unless the tip changed exactly the lines the floor edits (and the ledger)."""
    commit = tip(remote)
    changed = _numstat(remote, commit)
    if set(changed) != {*shape.paths, LEDGER_PATH}:
        raise AssertionError(f"{shape.name}-{shape.size}: the promotion changed {sorted(changed)}")
    lines = [changed[path] for path in shape.paths]
    if sum(added for added, _ in lines) != shape.lines or any(a != d for a, d in lines):
        raise AssertionError(f"{shape.name}-{shape.size}: changed lines {changed}")
    for path in shape.paths:
        old, new = (_show(remote, f"{c}:{path}") for c in (f"{commit}^", commit))
        digests = set(_DIGEST.findall(new)) - set(_DIGEST.findall(old))
        if len(digests) != 1 or pin_text(old, tag=tag, digest=digests.pop()) != new:
            raise AssertionError(f"{path}: the promotion is not the floor's edit of {tag}")


def _numstat(bare: Path, commit: str) -> dict[str, tuple[int, int]]:
    out = _git(bare, "diff", "--numstat", f"{commit}^", commit)
    rows = (line.split("\t") for line in out.splitlines())
    return {path: (int(added), int(deleted)) for added, deleted, path in rows}


def _show(bare: Path, spec: str) -> str:
    return _git(bare, "show", spec)


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True
    )
    return done.stdout
