"""End to end: Pub/Sub emulator -> push subscription -> functions-framework -> bare repo."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from promoter.pubsub import ensure_subscription, publish

from .conftest import build, count_commits, digest_of, show, tip

pytestmark = pytest.mark.emulator


def wait_for_new_tip(remote, before: str, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if tip(remote) != before:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"no commit within {timeout} s")


def test_publish_to_commit_through_the_emulator(emulator, make_config_repo, function_server):
    remote = make_config_repo()
    server = function_server(remote)
    project = f"p{uuid.uuid4().hex[:12]}"
    topic = ensure_subscription(project, "promoter-push", server.url)

    latencies = []
    for n in range(5):
        before = tip(remote)
        event = build(create_time=f"2026-03-02T09:{10 + n:02d}:00Z", digest=digest_of(("e2e", n)))
        publish(topic, json.dumps(event).encode(), buildId=event["id"], status="SUCCESS")
        latencies.append(wait_for_new_tip(remote, before))
        assert digest_of(("e2e", n)) in show(remote, "clusters/dev/kustomization.yaml")

    # A repeated message and a failed build reach the function and change nothing.
    commits_before = count_commits(remote)
    publish(topic, json.dumps(event).encode())
    publish(topic, json.dumps(build(status="FAILURE")).encode())
    deadline = time.monotonic() + 20
    while len(server.log_lines()) < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [line["outcome"] for line in server.log_lines()][5:] in (
        ["unchanged", "ignored"],
        ["ignored", "unchanged"],
    )
    assert count_commits(remote) == commits_before
    latencies.sort()
    print(f"\npublish -> visible commit: median {latencies[2]:.3f} s, max {latencies[-1]:.3f} s")
