"""A test that leaves a process running: the suite must fail it (run by tests/test_ci.py)."""

import subprocess


def test_starts_a_process_and_leaves_it():
    subprocess.Popen(["sleep", "60"])
