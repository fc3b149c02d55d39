"""The benchmark's verdicts: `python -m bench` fails when a measured target is missed."""

from __future__ import annotations

import subprocess
import sys

from bench.targets import exit_status, judge

from .conftest import ROOT

MET = {
    "warm": {
        "small": {"promoter": {"median": 0.06}, "promoter_over_floor": 0.9},
        "large": {
            "promoter": {"median": 0.07},
            "promoter_over_floor": 0.6,
            "fresh_clone_over_promoter": 60.0,
        },
    },
    "cold": {"repo": "large", "import": {"median": 0.2}, "first_event": {"median": 0.3}},
    "e2e": {"latency": {"median": 0.1}},
    "contention": {"ratio_to_floor": 0.7, "lost_updates": 0, "peak_rss_bytes": {"max": 42 << 20}},
}


def test_every_target_met_exits_0():
    targets = judge(MET)
    assert all(t.met for t in targets)
    assert exit_status(targets) == 0


def test_one_missed_target_exits_1():
    slow = {**MET, "e2e": {"latency": {"median": 0.61}}}
    targets = judge(slow)
    assert [t.text for t in targets if t.met is False] == ["publish -> visible commit, median s"]
    assert exit_status(targets) == 1


def test_a_target_not_measured_is_not_judged():
    targets = judge({"e2e": {"latency": {"median": 0.1}}})
    assert exit_status(targets) == 0
    assert sum(t.met is None for t in targets) == len(targets) - 1


def test_bench_help_states_its_exit_status():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "Exit status" in done.stdout
