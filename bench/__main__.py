"""`python -m bench [--quick] [--json FILE] [--only NAMES]`: the promoter's figures, one run.

Scenarios (every figure a median and p90 over repeated runs after warm-up, ratios taken between
figures of this same run):
  warm        1-2  warm promotion vs the git floor vs a fresh clone per update (small, large repo)
  cold        3    a new instance: importing the function module, first event on an empty workdir
  e2e         4    publish to the Pub/Sub emulator -> push -> function -> commit on the remote
  contention  5-6  8 promoter processes on one remote: throughput, retries, lost updates, memory
  shapes      7    repos shaped like real ones (image families, a rendered manifest): warm
                   promotion vs the git floor per size, first event on an empty workdir
--quick runs reduced sizes in well under a minute and judges no target.
Exit status: 0 when every target measured in the run is met (always, with --quick), 1 when one
is missed, so that the figures are judged by the tool and not by a reader.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.coldstart import run_cold_start
from bench.contention import run_contention
from bench.endtoend import run_end_to_end
from bench.scenarios import run_warm
from bench.shaped import run_shapes
from bench.shapes import ISSUE_SIZES, shape_label
from bench.targets import MB, exit_status, judge

SCENARIOS = ("warm", "cold", "e2e", "contention", "shapes")
Repo = tuple[str, int, int]  # label, files, commits
SMALL: Repo = ("small", 50, 200)
LARGE: Repo = ("large", 5000, 20000)
_OVER = "promoter_over_floor"


@dataclass(frozen=True)
class Sizes:
    """How much each scenario runs."""

    warm_repos: tuple[Repo, ...]
    runs: int
    cold_repo: Repo
    cold_runs: int
    e2e_events: int
    processes: int
    images: int
    builds_per_image: int
    families: tuple[int, ...]  # files naming near-misses of the target, one repo each
    rendered_kb: tuple[int, ...]  # size of the rendered manifest, one repo each
    shape_runs: int
    shape_cold_runs: int


FULL = Sizes((SMALL, LARGE), 20, LARGE, 10, 30, 8, 40, 8, (100, 400, 1600), (200, 800, 3200), 10, 5)
QUICK = Sizes((SMALL,), 5, SMALL, 3, 5, 8, 16, 2, (100,), (200,), 3, 3)


def main() -> int:
    args = _parser().parse_args()
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = Sizes(**{**sizes.__dict__, "runs": args.runs})
    only = args.only.split(",") if args.only else list(SCENARIOS)
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    report |= {"machine": _machine(), "quick": args.quick, "sizes": sizes.__dict__}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        report["scenarios"] = _run(Path(tmp), sizes, only)
    report["seconds"] = time.perf_counter() - started
    targets = [] if args.quick else judge(report["scenarios"])
    report["targets"] = [t.to_json() for t in targets]
    _print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return exit_status(targets)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes, no targets (< 1 min)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--runs", type=int, help="measured runs of scenarios 1-2 (after warm-up)")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated: {','.join(SCENARIOS)}")
    return parser


def _run(root: Path, sizes: Sizes, only: list[str]) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    if "warm" in only:
        scenarios["warm"] = {
            label: run_warm(root, label=label, files=files, commits=commits, runs=sizes.runs)
            for label, files, commits in sizes.warm_repos
        }
        _progress("1-2 warm promotion, floor, fresh clone")
    if "cold" in only:
        label, files, commits = sizes.cold_repo
        scenarios["cold"] = run_cold_start(
            root, label=label, files=files, commits=commits, runs=sizes.cold_runs
        )
        _progress("3 cold start")
    if "e2e" in only:
        files, commits = SMALL[1:]
        scenarios["e2e"] = run_end_to_end(
            root, files=files, commits=commits, events=sizes.e2e_events
        )
        _progress("4 end to end")
    if "contention" in only:
        scenarios["contention"] = run_contention(
            root,
            processes=sizes.processes,
            images=sizes.images,
            builds_per_image=sizes.builds_per_image,
            floor_runs=sizes.runs,
        )
        _progress("5-6 contention and memory")
    if "shapes" in only:
        scenarios["shapes"] = run_shapes(
            root,
            families=sizes.families,
            rendered_kb=sizes.rendered_kb,
            runs=sizes.shape_runs,
            cold_runs=sizes.shape_cold_runs,
            cold_at=(ISSUE_SIZES["families"], ISSUE_SIZES["rendered"]),
        )
        _progress("7 repo shapes: image families, rendered manifest")
    return scenarios


def _progress(done: str) -> None:
    print(f"done: {done}", flush=True)


def _machine() -> dict[str, Any]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git": git.removeprefix("git version "),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def _print_table(report: dict[str, Any]) -> None:
    machine = report["machine"]
    print(
        f"\npromoter bench, {report['date']}, {machine['arch']} x{machine['cpus']},"
        f" Python {machine['python']}, git {machine['git']}"
        f"{' (quick: reduced sizes)' if report['quick'] else ''}"
    )
    print(f"{'figure':<58} {'median':>9} {'p90':>9} {'runs':>5}")
    for name, figure in _figures(report["scenarios"]):
        print(f"{name:<58} {figure['median']:>9.3f} {figure['p90']:>9.3f} {figure['runs']:>5}")
    for name, value in _values(report["scenarios"]):
        print(f"{name:<58} {value}")
    if report["targets"]:
        print("\ntargets")
        for t in report["targets"]:
            value = "-" if t["value"] is None else f"{t['value']:.3g}"
            text = f"{t['scenario']}  {t['target']}"
            print(f"  {t['verdict']:<7} {text:<46} {value:>7}  {t['bound']}")
        missed = sum(t["verdict"] == "MISSED" for t in report["targets"])
        print(f"\n{missed} target(s) missed" if missed else "\nevery measured target met")
    elif report["quick"]:
        print("\nquick run: reduced sizes, targets not judged")


def _figures(scenarios: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, figure in seconds) rows for the table."""
    rows = []
    for label, warm in scenarios.get("warm", {}).items():
        rows += [
            (f"1 {label}: promoter, warm (s)", warm["promoter"]),
            (f"1 {label}: git floor, warm clone (s)", warm["floor"]),
            (f"2 {label}: anchor, fresh shallow clone per update (s)", warm["fresh_clone"]),
        ]
    cold = scenarios.get("cold")
    if cold:
        rows += [
            ("3 import of the function module (s)", cold["import"]),
            (f"3 first event, empty workdir, {cold['repo']} repo (s)", cold["first_event"]),
            ("3 new process to first commit, all included (s)", cold["instance_total"]),
        ]
    e2e = scenarios.get("e2e", {})
    if "latency" in e2e:
        rows.append(("4 publish -> commit on the remote (s)", e2e["latency"]))
    contention = scenarios.get("contention")
    if contention:
        rows.append(("5 git floor on the contention repo (s)", contention["floor"]))
    for name, shape in scenarios.get("shapes", {}).items():
        for size, warm in shape["sizes"].items():
            label = _row_label(name, size)
            rows += [
                (f"{label}: promoter, warm (s)", warm["promoter"]),
                (f"{label}: git floor, same lines (s)", warm["floor"]),
            ]
        label = _row_label(name, shape["cold"]["size"])
        rows.append((f"{label}: first event, empty workdir (s)", shape["cold"]["first_event"]))
    return rows


def _row_label(name: str, size: int | str) -> str:
    return f"7 {shape_label(name, size)}"


def _values(scenarios: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows: ratios of this run's medians, counts and memory."""
    rows = []
    warm = scenarios.get("warm", {})
    for label, figures in warm.items():
        rows += [
            (f"1 {label}: promoter / floor", f"{figures['promoter_over_floor']:.2f}"),
            (f"2 {label}: anchor / promoter", f"{figures['fresh_clone_over_promoter']:.2f}"),
        ]
    if {"small", "large"} <= warm.keys():
        ratio = warm["large"]["promoter"]["median"] / warm["small"]["promoter"]["median"]
        rows.append(("1 large / small promoter median", f"{ratio:.2f}"))
    if "skipped" in scenarios.get("e2e", {}):
        rows.append(("4 publish -> commit", f"skipped: {scenarios['e2e']['skipped']}"))
    c = scenarios.get("contention")
    if c:
        rows += [
            (
                f"5 {c['processes']} processes, {c['images']} images, {c['events']} events",
                f"{c['seconds']:.1f} s after {c['warmup_events']} warm-up events",
            ),
            ("5 outcomes", str(c["outcomes"])),
            ("5 events per second", f"{c['events_per_second']:.2f}"),
            ("5 promotions (commits) per second", f"{c['promotions_per_second']:.2f}"),
            ("5 serial floor, 1 / floor median (per second)", f"{c['floor_per_second']:.2f}"),
            ("5 throughput / serial floor", f"{c['ratio_to_floor']:.2f}"),
            ("5 retries per promotion (push rejected)", f"{c['retries_per_promotion']:.2f}"),
            ("5 redeliveries (503)", str(c["redeliveries"])),
            ("5 lost updates (asserted)", str(c["lost_updates"])),
            ("6 peak RSS, largest promoter process (MB)", f"{c['peak_rss_bytes']['max'] / MB:.1f}"),
        ]
    for name, shape in scenarios.get("shapes", {}).items():
        sizes = [int(size) for size in shape["sizes"]]
        for size, warm in shape["sizes"].items():
            rows.append((f"{_row_label(name, size)}: promoter / floor", f"{warm[_OVER]:.2f}"))
        if len(sizes) > 1:
            growth = f"{shape['promoter_growth']:.2f} (floor {shape['floor_growth']:.2f})"
            rows.append((f"7 {name}: median at {max(sizes)} / at {min(sizes)}", growth))
        cold = shape["cold"]
        rss = f"{cold['peak_rss_bytes']['max'] / MB:.1f}"
        rows.append((f"{_row_label(name, cold['size'])}: peak RSS, first event (MB)", rss))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
