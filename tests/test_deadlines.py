"""Deadlines: a remote that accepts and never answers ends the event, never the process's life.

Each git process has PROMOTER_GIT_TIMEOUT seconds, then its whole process group is killed (git's
remote helper with it) and the event is transient; waiting for the workspace lock is bounded too.
Every test here also checks, through conftest's `no_process_left_behind`, that no git process
outlives it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from promoter.remote import Remote

from .conftest import HungRemote, build, promote_argv, promote_cli
from .test_function import post_binary

TIMEOUT = 2.0  # PROMOTER_GIT_TIMEOUT in these tests
SLACK = 8.0  # interpreter start and a loaded machine


def hung_env(timeout: float = TIMEOUT) -> dict[str, str]:
    return {**os.environ, "PROMOTER_GIT_TIMEOUT": f"{timeout:g}"}


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_a_hung_remote_ends_the_cli_as_transient_within_its_deadline(scheme, tmp_path):
    with HungRemote() as remote:
        started = time.monotonic()
        done = promote_cli(build(), remote.url(scheme), tmp_path / "work", env=hung_env())
        took = time.monotonic() - started
        assert remote.connections >= 1
    assert done.returncode == 75, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"did not finish within {TIMEOUT:g} s (PROMOTER_GIT_TIMEOUT)" in done.stderr
    assert f"127.0.0.1:{remote.port}" in done.stderr
    assert TIMEOUT <= took < TIMEOUT + SLACK


def test_a_second_process_on_the_same_workdir_is_not_held_forever(tmp_path):
    """The first holds the workspace lock while its git call hangs; the second waits for it,
    then meets the same hung remote: both end, transient, within their deadlines."""
    with HungRemote() as remote:
        argv = promote_argv(remote.url(), tmp_path / "work")

        def run() -> tuple[int, float]:
            started = time.monotonic()
            done = subprocess.run(
                argv, input=json.dumps(build()), capture_output=True, text=True,
                env=hung_env(), timeout=120,
            )  # fmt: skip
            return done.returncode, time.monotonic() - started

        with ThreadPoolExecutor(2) as pool:
            ends = list(pool.map(lambda _: run(), range(2)))
    assert [code for code, _ in ends] == [75, 75]
    assert max(took for _, took in ends) < 2 * TIMEOUT + SLACK


def test_waiting_for_a_workspace_lock_that_is_never_released_is_bounded(tmp_path):
    """Something holds the workspace lock past every deadline: the event gives up after twice
    PROMOTER_GIT_TIMEOUT, transient, and says which lock."""
    with HungRemote() as remote:
        workdir = tmp_path / "work"
        workdir.mkdir()
        lock = workdir / (Remote(remote.url()).workspace_name() + ".lock")
        with open(lock, "a+b") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            started = time.monotonic()
            done = promote_cli(build(), remote.url(), workdir, env=hung_env(1))
            took = time.monotonic() - started
        assert remote.connections == 0  # it never got as far as the remote
    assert done.returncode == 75, done.stderr
    assert "stayed locked for 2 s by another event" in done.stderr
    assert 2 <= took < 2 + SLACK


def test_the_function_answers_503_within_the_deadline(function_server):
    with HungRemote() as remote:
        server = function_server(remote.url(), PROMOTER_GIT_TIMEOUT=f"{TIMEOUT:g}")
        started = time.monotonic()
        response = post_binary(server.url, build())
        took = time.monotonic() - started
    assert response.status_code == 503
    assert TIMEOUT <= took < TIMEOUT + SLACK
    [line] = [line for line in server.log_lines() if "outcome" in line]
    assert line["outcome"] == "retry"
    assert "did not finish within 2 s (PROMOTER_GIT_TIMEOUT)" in line["message"]


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf", "3601"])
def test_a_bad_git_timeout_is_a_config_error(value, make_config_repo, tmp_path):
    done = promote_cli(
        build(),
        make_config_repo(),
        tmp_path / "work",
        env={**os.environ, "PROMOTER_GIT_TIMEOUT": value},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("promoter: error: PROMOTER_GIT_TIMEOUT: expected seconds")
    assert done.stderr.count("\n") == 1


def test_the_function_with_a_bad_git_timeout_keeps_the_message(make_config_repo, function_server):
    server = function_server(make_config_repo(), PROMOTER_GIT_TIMEOUT="soon")
    assert post_binary(server.url, build()).status_code == 503
    [line] = [line for line in server.log_lines() if "outcome" in line]
    assert line["severity"] == "ERROR"
    assert "PROMOTER_GIT_TIMEOUT" in line["message"]


def _run_child(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_deadline_kills_the_whole_process_group():
    """A child that started children of its own: all of them end at the deadline."""
    done = _run_child(
        """
        import os, time
        from promoter import processes
        started = time.monotonic()
        done = processes.run(
            ["sh", "-c", "sleep 300 & sleep 300 & echo started; wait"],
            cwd=None, env=os.environ, timeout=0.5,
        )
        print(done.timed_out, done.out, time.monotonic() - started < 5)
        """
    )
    # The sleeps left running would fail the test (conftest's no_process_left_behind).
    assert done.stdout.split() == ["True", "started", "True"], done.stderr


def test_stop_all_ends_running_children_and_refuses_new_ones():
    done = _run_child(
        """
        import os, threading, time
        from promoter import processes
        threading.Timer(0.5, processes.stop_all).start()
        for attempt in ("running", "after"):
            try:
                processes.run(["sleep", "300"], cwd=None, env=os.environ, timeout=120)
            except processes.ShuttingDown as err:
                print(attempt, "stopped")
        """
    )
    assert done.stdout.split("\n")[:2] == ["running stopped", "after stopped"], done.stderr


def test_an_interrupted_caller_takes_its_child_along():
    """Ctrl-C (or SIGTERM turned into an exception) while git runs: the group goes too."""
    done = _run_child(
        """
        import os, signal, threading
        from promoter import processes
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            processes.run(["sh", "-c", "sleep 300 & wait"], cwd=None, env=os.environ, timeout=120)
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    assert done.stdout.strip() == "interrupted", done.stderr


def test_a_finished_child_is_not_touched(tmp_path):
    """The deadline is per process: a quick one returns its output untouched."""
    done = _run_child(
        """
        import os
        from promoter import processes
        argv = ["printf", "a\\\\n\\\\377b\\\\n"]
        done = processes.run(argv, cwd=None, env=os.environ, timeout=30)
        print(repr((done.status, done.out, done.timed_out)))
        """
    )
    assert done.stdout.strip() == repr((0, "a\n\udcffb", False)), done.stderr


def test_sigterm_ends_the_cli_and_the_git_it_started(tmp_path):
    with HungRemote() as remote:
        process = subprocess.Popen(
            promote_argv(remote.url(), tmp_path / "work"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=hung_env(600),
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(build()))
        process.stdin.close()
        deadline = time.monotonic() + 60
        while remote.connections == 0:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.terminate()
        started = time.monotonic()
        code = process.wait(timeout=30)
        took = time.monotonic() - started
    assert code == 128 + 15
    assert took < 5
    # git and its remote helper went with it: conftest's no_process_left_behind checks.
