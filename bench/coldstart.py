"""Scenario 3: a cold instance, each run in a new process with an empty workdir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.repos import PROJECT_ROOT, TARGET, build_repo, fresh_copy
from bench.scenarios import Clock, build_body
from bench.stats import Figure

WARMUP = 1


def run_cold_start(
    root: Path, *, label: str, files: int, commits: int, runs: int
) -> dict[str, Any]:
    """Import time of the function module and the first event's time, over `runs` new instances."""
    remote = fresh_copy(build_repo(root, files=files, commits=commits), root / "cold")
    figures = new_instances(remote, root / "cold-work", runs=runs)
    return {
        "repo": label,
        "files": files,
        "commits": commits,
        **{name: figure.to_json() for name, figure in figures.items()},
    }


def new_instances(remote: Path, workdirs: Path, *, runs: int) -> dict[str, Figure]:
    """Each figure of `runs` new instances (after warm-up), every one on an empty workdir.

    Figures: import, first_event, instance_total (seconds) and peak_rss_bytes.
    """
    clock = Clock()
    samples: dict[str, list[float]] = {}
    for n in range(WARMUP + runs):
        figures = _new_instance(f"file://{remote}", Path(f"{workdirs}-{n}"), clock)
        if n >= WARMUP:
            for name, value in figures.items():
                samples.setdefault(name, []).append(value)
    return {name: Figure.of(values) for name, values in samples.items()}


def _new_instance(url: str, workdir: Path, clock: Clock) -> dict[str, float]:
    body = json.dumps(build_body(TARGET, clock))
    command = [sys.executable, "-m", "bench.instance", url, str(workdir), body]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(workdir, ignore_errors=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures.pop("outcome") != "promoted":
        raise AssertionError(f"a cold instance did not promote: {done.stdout}{done.stderr}")
    return {**figures, "instance_total": elapsed}
