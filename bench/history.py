"""`python -m bench.history [--sizes 2000,20000] [--runs 5]`: what `promoter history` costs.

A config repo shaped like one the promoter has served for years: `N` commits, nine in ten
promotions (a digest in one of 20 manifests, the ledger, the trailers), one in ten a person's
commit, made with `git fast-import`. For each size, in the same run and on the same machine:
- `history --limit 20` on a new workdir (a depth-1 clone, deepened as needed) and on a warm one;
- `history --limit 0` (every deploy) on a warm, complete workspace;
- the git floor for each: `git log` of the same commits' ids and messages (and changed paths)
  in a complete bare repo, with no Python at all.
Figures are medians of `--runs` runs; the ratio promoter / floor is what to compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.repos import import_history
from bench.stats import Figure, measure

IMAGE = "europe-west1-docker.pkg.dev/demo-shop/apps/svc"
SERVICES = 20


def build_history_repo(root: Path, commits: int) -> Path:
    """A bare repo of `commits` commits: promotions with trailers, and people's commits."""
    bare = root / f"history-{commits}.git"
    history: list[tuple[str, list[tuple[str, str]]]] = []
    first = [(_path(i), _manifest(i, "0" * 64)) for i in range(SERVICES)]
    history.append(("Seed", first))
    for n in range(1, commits):
        if n % 10 == 0:
            history.append((f"Edit notes {n}", [("NOTES.md", f"notes {n}\n")]))
            continue
        i = n % SERVICES
        digest = f"{n:064x}"
        message = (
            f"Promote svc{i}@{digest[:12]} (build b{n:07})\n\nCloud Build b{n}.\n\n[skip ci]\n\n"
            f"Build-Id: b{n:07}\nImage: {IMAGE}{i}@sha256:{digest}\nSource-Commit: {n:040x}\n"
        )
        ledger = f'{{"path": "{_path(i)}", "build": "b{n:07}"}}\n'
        history.append(
            (message, [(_path(i), _manifest(i, digest)), (".promoter/ledger.jsonl", ledger)])
        )
    import_history(bare, [changes for _, changes in history], [message for message, _ in history])
    return bare


def run_history(root: Path, sizes: list[int], runs: int) -> dict[str, dict[str, Figure]]:
    results = {}
    for size in sizes:
        bare = build_history_repo(root, size)
        warm = root / f"warm-{size}"
        for limit in ("20", "0"):  # make the warm workspace complete, as a long-lived one is
            _history(bare, warm, limit)()
        cycles: dict[str, Callable[[], None]] = {
            "start-up alone: promoter --help": _start_up(),
            "limit 20, new workdir": _fresh(bare, root / f"fresh-{size}"),
            "limit 20, warm": _history(bare, warm, "20"),
            "floor: git log -20": _git_log(bare, "-20"),
            "all, warm": _history(bare, warm, "0"),
            "floor: git log, every commit with paths": _git_log(bare, "--name-only"),
        }
        results[str(size)] = measure(cycles, warmup=1, runs=runs)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--sizes", default="2000,20000", help="commits per repo, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="promoter-bench-history-") as tmp:
        results = run_history(Path(tmp), sizes, args.runs)
    print(f"{'commits':>8}  {'figure':<42} {'median s':>9} {'p90 s':>9}")
    for size, figures in results.items():
        for name, figure in figures.items():
            print(f"{size:>8}  {name:<42} {figure.median:>9.3f} {figure.p90:>9.3f}")
        limited = figures["limit 20, warm"].median / figures["floor: git log -20"].median
        whole = (
            figures["all, warm"].median / figures["floor: git log, every commit with paths"].median
        )
        print(f"{size:>8}  ratio promoter / floor: limit 20 {limited:.1f}, all {whole:.1f}")
    if args.json:
        data = {size: {n: f.to_json() for n, f in figs.items()} for size, figs in results.items()}
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0


def _history(bare: Path, workdir: Path, limit: str) -> Callable[[], None]:
    argv = [sys.executable, "-m", "promoter", "history", "--repo", str(bare)]
    argv += ["--workdir", str(workdir), "--limit", limit, "--json"]

    def run() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    return run


def _fresh(bare: Path, workdirs: Path) -> Callable[[], None]:
    made = iter(range(1_000_000))

    def run() -> None:
        workdir = workdirs / str(next(made))
        _history(bare, workdir, "20")()
        shutil.rmtree(workdir)

    return run


def _start_up() -> Callable[[], None]:
    argv = [sys.executable, "-m", "promoter", "--help"]

    def run() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    return run


def _git_log(bare: Path, *options: str) -> Callable[[], None]:
    argv = ["git", "--git-dir", str(bare), "log", "--format=%H%x00%B", *options, "main"]

    def run() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    return run


def _path(i: int) -> str:
    return f"services/svc{i}/deployment.yaml"


def _manifest(i: int, digest: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc{i}\nspec:\n  template:\n"
        f"    spec:\n      containers:\n        - name: svc{i}\n"
        f"          image: {IMAGE}{i}@sha256:{digest}\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
