"""Reliability: duplicates, disorder and faults at concurrency, checked on the remote alone.

Invariants (asserted after every scenario, from the remote's history and reflog):
- each image's final digest is its newest build's (by createTime, ties by build id);
- no commit moves a target to an older build; no build is committed twice for a target;
- history is linear and every update of the branch was a fast-forward.

CI runs a small size; `PROMOTER_RELIABILITY=long` runs the size docs/RELIABILITY.md reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from . import reliability
from .conftest import GitDaemon, free_port, promote_argv

LONG = os.environ.get("PROMOTER_RELIABILITY") == "long"
IMAGES, PER_IMAGE, PROCESSES = (40, 8, 8) if LONG else (12, 4, 8)
# Seconds between git server outages: the long run keeps 2 cores saturated for longer, and
# outages as frequent as in the short run would fail most deliveries before they finish.
OUTAGE_EVERY = (2.5, 5.0) if LONG else (1.0, 2.5)
GIT_TIMEOUT = 2.0  # PROMOTER_GIT_TIMEOUT of the fault run: hangs last one to two of it


def report(name: str, figures: dict[str, Any]) -> None:
    print(f"\n{name}: {json.dumps(figures)}")
    out = os.environ.get("PROMOTER_RELIABILITY_REPORT")
    if out:
        with open(out, "a") as handle:
            handle.write(json.dumps({"scenario": name, **figures}) + "\n")


def drain(
    work: queue.Queue[dict[str, Any]], deliver, workers: int, deadline: float
) -> Counter[str]:
    """Deliver until the queue is empty; a failed delivery goes back in (as Pub/Sub would)."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        while time.monotonic() < deadline:
            try:
                body = work.get(timeout=0.5)
            except queue.Empty:
                if work.unfinished_tasks == 0:
                    return
                continue
            outcome = deliver(index, body)
            with lock:
                counts[outcome] += 1
            if outcome in ("retry", "killed"):
                work.put(body)
            work.task_done()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert work.unfinished_tasks == 0, f"deliveries left after the deadline: {counts}"
    return counts


def test_duplicates_and_disorder_across_function_servers(tmp_path, function_server):
    rng = random.Random(20261127)
    remote = reliability.config_repo(tmp_path, IMAGES)
    with GitDaemon(tmp_path, free_port()) as daemon:
        daemon.start()
        servers = [function_server(daemon.url(remote)) for _ in range(PROCESSES)]
        made = reliability.builds(IMAGES, PER_IMAGE, rng)
        work: queue.Queue[dict[str, Any]] = queue.Queue()
        for body in reliability.deliveries(made, rng):
            work.put(body)
        delivered = work.qsize()

        def deliver(index: int, body: dict[str, Any]) -> str:
            envelope: dict[str, Any] = {
                "message": _message(body),
                "subscription": "projects/p/subscriptions/s",
            }
            response = requests.post(servers[index].url, json=envelope, timeout=120)
            return "ok" if response.status_code == 200 else "retry"

        started = time.monotonic()
        counts = drain(work, deliver, PROCESSES, started + (900 if LONG else 240))
        elapsed = time.monotonic() - started
        outcomes = Counter(
            line["outcome"] for s in servers for line in s.log_lines() if "outcome" in line
        )
    found = reliability.check(remote, made)
    report(
        "duplicates-and-disorder",
        {
            "builds": len(made),
            "deliveries": delivered,
            "processes": PROCESSES,
            "seconds": round(elapsed, 1),
            "outcomes": dict(outcomes),
            "redeliveries": counts["retry"],
            **found.summary(),
        },
    )
    assert found.clean, found
    assert outcomes["promoted"] == found.commits - 1  # every commit but the seed is one promotion


def test_faults_remote_outages_hangs_and_killed_processes(tmp_path):
    """The remote goes away, or hangs (it accepts and never answers: the whole `git daemon` is
    stopped, connections in flight included), while CLI processes are SIGKILLed at random. Every
    event ends within its deadlines (PROMOTER_GIT_TIMEOUT, here GIT_TIMEOUT s) and the remote's
    history stays right."""
    rng = random.Random(7)
    remote = reliability.config_repo(tmp_path, IMAGES)
    made = reliability.builds(IMAGES, PER_IMAGE, rng)
    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for body in reliability.deliveries(made, rng):
        work.put(body)
    delivered = work.qsize()
    faults: Counter[str] = Counter()
    stop_chaos = threading.Event()
    longest, longest_lock = [0.0], threading.Lock()  # the longest event, from start to exit

    with GitDaemon(tmp_path, free_port()) as daemon:
        daemon.start()
        url = daemon.url(remote)

        def chaos() -> None:
            # The remote goes away, or hangs, for stretches while promotions run.
            while not stop_chaos.wait(rng.uniform(*OUTAGE_EVERY)):
                if rng.random() < 0.5:
                    daemon.stop()
                    faults["remote-outages"] += 1
                    time.sleep(rng.uniform(0.2, 0.8))
                    daemon.start()
                else:
                    with daemon.hung():
                        faults["remote-hangs"] += 1
                        time.sleep(rng.uniform(GIT_TIMEOUT, 2 * GIT_TIMEOUT))

        def deliver(index: int, body: dict[str, Any]) -> str:
            # Each worker is one instance: one workspace, reused after every kill.
            killed = rng.random() < 0.3
            started = time.monotonic()
            code, out, err = _run_promote(
                promote_argv(url, str(tmp_path / f"instance-{index}")),
                json.dumps(body),
                kill_after=rng.uniform(0.05, 0.6) if killed else None,
            )
            with longest_lock:
                longest[0] = max(longest[0], time.monotonic() - started)
            if code == -signal.SIGKILL:
                faults["kills"] += 1
                return "killed"
            if code == 75:
                return "retry"
            assert code == 0, err
            assert "Traceback" not in err
            return str(json.loads(out)["outcome"])

        chaos_thread = threading.Thread(target=chaos)
        chaos_thread.start()
        started = time.monotonic()
        try:
            counts = drain(work, deliver, PROCESSES, started + (1500 if LONG else 300))
        finally:
            stop_chaos.set()
            chaos_thread.join()
        elapsed = time.monotonic() - started
        faults["stale-locks-cleared-on-restart"] = daemon.stale_locks_cleared
    found = reliability.check(remote, made)
    report(
        "faults",
        {
            "builds": len(made),
            "deliveries": delivered,
            "processes": PROCESSES,
            "seconds": round(elapsed, 1),
            "git-timeout": GIT_TIMEOUT,
            "longest-event-seconds": round(longest[0], 1),
            "outcomes": dict(counts),
            **dict(faults),
            **found.summary(),
        },
    )
    assert found.clean, found
    assert faults["kills"] > 0 and faults["remote-outages"] > 0 and faults["remote-hangs"] > 0
    # Waiting for the workspace (twice the timeout), then at most four git calls that each end
    # by the timeout, plus the interpreter's start on a loaded machine.
    assert longest[0] < 2 * GIT_TIMEOUT + 4 * GIT_TIMEOUT + 15, longest[0]
    for workspace in tmp_path.glob("instance-*/*"):
        if workspace.is_dir():
            subprocess.run(
                ["git", "--git-dir", str(workspace), "fsck", "--connectivity-only"],
                check=True,
                capture_output=True,
            )


def _run_promote(argv: list[str], event: str, *, kill_after: float | None) -> tuple[int, str, str]:
    """One CLI process, SIGKILLed after `kill_after` seconds if given.

    Only the CLI is killed: a git push it started may still finish as an orphan, which the
    redelivery must then find done. The process has its own group, so that such orphans are
    waited for, and ended if they outlive the wait: nothing is left running after the test.
    """
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PROMOTER_GIT_TIMEOUT": f"{GIT_TIMEOUT:g}"},
    )
    killer = threading.Timer(kill_after or 0, _kill, args=(process,))
    if kill_after is not None:
        killer.start()
    try:
        out, err = process.communicate(event, timeout=120)
    finally:
        killer.cancel()
        _kill(process)
        process.wait()
        _end_session(process.pid, grace=30)
    return process.returncode, out, err


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)


def _end_session(sid: int, *, grace: float) -> None:
    """Wait for what the CLI started (git runs in groups of its own, in the CLI's session) to
    end; kill what outlives `grace`."""
    deadline = time.monotonic() + grace
    while (left := _in_session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _in_session(sid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": state ppid pgrp sid
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _message(body: dict[str, Any]) -> dict[str, Any]:
    import base64

    return {"data": base64.b64encode(json.dumps(body).encode()).decode(), "messageId": "1"}
