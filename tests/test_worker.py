"""`promoter listen`: streaming pull from the real emulator, ack/nack, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from promoter.pubsub import ensure_subscription, publish

from .conftest import GitDaemon, build, count_commits, digest_of, free_port, show

pytestmark = pytest.mark.emulator


def start_worker(subscription: str, repo: str, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "promoter",
                "listen",
                "--subscription",
                subscription,
                "--repo",
                repo,
                "--workdir",
                str(workdir),
                "--max-in-flight",
                "3",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def outcomes(log: Path) -> list[str]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line["outcome"] for line in lines if "outcome" in line]


def new_subscription() -> tuple[str, str]:
    project = f"w{uuid.uuid4().hex[:12]}"
    topic = ensure_subscription(project, "promoter-pull")
    return topic, f"projects/{project}/subscriptions/promoter-pull"


def test_worker_promotes_acks_and_stops_cleanly(emulator, make_config_repo, tmp_path):
    remote = make_config_repo()
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    worker = start_worker(subscription, str(remote), tmp_path / "work", log)

    events = [
        build(create_time=f"2026-03-02T09:{n:02d}:00Z", digest=digest_of(("w", n)))
        for n in range(4)
    ]
    for event in [*events, events[1], build(status="FAILURE")]:
        publish(topic, json.dumps(event).encode())
    publish(topic, b"not json at all")
    wait_until(lambda: len(outcomes(log)) >= 7)

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert digest_of(("w", 3)) in show(remote, "clusters/dev/kustomization.yaml")
    assert count_commits(remote) <= 5  # at most one commit per build; older ones may be skipped
    seen = outcomes(log)
    assert seen.count("invalid") == 1 and seen.count("ignored") == 1
    assert "retry" not in seen


def test_transient_failure_is_nacked_and_delivered_again(emulator, make_config_repo, tmp_path):
    remote = make_config_repo()
    port = free_port()
    url = f"git://127.0.0.1:{port}/{remote.name}"
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    worker = start_worker(subscription, url, tmp_path / "work", log)
    publish(topic, json.dumps(build(digest=digest_of("later"))).encode())
    wait_until(lambda: "retry" in outcomes(log))

    daemon = GitDaemon(remote.parent, port)
    try:
        daemon.start()
        wait_until(lambda: "promoted" in outcomes(log), timeout=60)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)
        daemon.stop()
    assert digest_of("later") in show(remote, "clusters/dev/kustomization.yaml")
    assert worker.returncode == 0
