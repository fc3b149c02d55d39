"""Child processes: their whole output and status, their exit seen at once, their deadline kept."""

from __future__ import annotations

import os
import time

from promoter import processes

ENV = dict(os.environ)


def test_both_outputs_are_read_whole_past_a_pipes_buffer():
    script = (
        "head -c 300000 /dev/zero | tr '\\0' o; head -c 200000 /dev/zero | tr '\\0' e >&2; exit 3"
    )
    done = processes.run(["sh", "-c", script], cwd=None, env=ENV, timeout=20)
    assert (done.status, done.timed_out) == (3, False)
    assert (done.out, done.err) == ("o" * 300000, "e" * 200000)


def test_a_child_past_its_deadline_is_killed_and_what_it_wrote_is_kept():
    started = time.monotonic()
    done = processes.run(["sh", "-c", "echo begun; exec sleep 30"], cwd=None, env=ENV, timeout=0.5)
    assert (done.status, done.timed_out, done.out) == (-9, True, "begun")
    assert time.monotonic() - started < 10


def test_a_helper_holding_the_output_is_waited_for_as_before():
    # The child exits at once; a process it left behind holds stdout until it ends.
    started = time.monotonic()
    done = processes.run(
        ["sh", "-c", "(sleep 1; echo late) & echo early"], cwd=None, env=ENV, timeout=20
    )
    assert (done.status, done.out) == (0, "early\nlate")
    assert 1 <= time.monotonic() - started < 10
