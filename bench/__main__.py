"""`python -m bench [--quick] [--json FILE]`: warm promotion against git's floor and a fresh clone.

Prints median and p90 seconds per promotion cycle and the ratios, all measured in this run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.repos import build_repo
from bench.scenarios import floor_cycle, fresh_clone_cycle, fresh_copy, measure, promoter_cycle


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small repo and few runs (< 1 min)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--runs", type=int, help="measured cycles per scenario")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    sizes = [("small", 50, 200)] if args.quick else [("small", 50, 200), ("large", 5000, 20000)]
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "runs": runs,
        "repos": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for label, files, commits in sizes:
            report["repos"][label] = _repo_figures(root, label, files, commits, runs)  # type: ignore[index]
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _repo_figures(root: Path, label: str, files: int, commits: int, runs: int) -> dict[str, object]:
    generated = build_repo(root, files=files, commits=commits)
    figures: dict[str, object] = {"files": files, "commits": commits}
    scenarios = {
        "promoter (warm)": lambda d: promoter_cycle(fresh_copy(generated, d), d / "work"),
        "git floor (warm clone)": lambda d: floor_cycle(fresh_copy(generated, d), d / "clone"),
        "fresh clone per update": lambda d: fresh_clone_cycle(fresh_copy(generated, d)),
    }
    print(f"\n{label} repo: {files} files, {commits} commits; {runs} runs after 2 warm-up")
    print(f"  {'scenario':<24} {'median s':>9} {'p90 s':>9}")
    for name, make in scenarios.items():
        scenario_dir = root / f"{label}-{len(figures)}"
        scenario_dir.mkdir()
        times = sorted(measure(make(scenario_dir), warmup=2, runs=runs))
        median, p90 = statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]
        figures[name] = {"median": median, "p90": p90}
        print(f"  {name:<24} {median:>9.3f} {p90:>9.3f}")
    promoter = figures["promoter (warm)"]["median"]  # type: ignore[index]
    floor = figures["git floor (warm clone)"]["median"]  # type: ignore[index]
    fresh = figures["fresh clone per update"]["median"]  # type: ignore[index]
    figures["promoter / floor"] = promoter / floor
    figures["fresh clone / promoter"] = fresh / promoter
    print(
        f"  promoter / floor = {promoter / floor:.2f};"
        f" fresh clone / promoter = {fresh / promoter:.2f}"
    )
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
