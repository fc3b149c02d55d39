"""Scenario 4: publish to the Pub/Sub emulator -> push -> functions-framework -> commit visible."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from bench.repos import TARGET, build_repo, fresh_copy
from bench.scenarios import Clock, build_body
from bench.servers import FunctionServer, stop_emulator
from bench.stats import Figure
from promoter.devloop import EMULATOR_PROJECT, start_emulator

WARMUP = 3
POLL_SECONDS = 0.002
TIMEOUT_SECONDS = 60.0


def run_end_to_end(root: Path, *, files: int, commits: int, events: int) -> dict[str, Any]:
    """Latency from publish to the commit being on the remote, one event at a time."""
    if shutil.which("gcloud") is None and not os.environ.get("PUBSUB_EMULATOR_HOST"):
        return {"skipped": "gcloud is not installed: no Pub/Sub emulator"}
    remote = fresh_copy(build_repo(root, files=files, commits=commits), root / "e2e")
    emulator = None
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        host, emulator = start_emulator()
        os.environ["PUBSUB_EMULATOR_HOST"] = host
    server = FunctionServer.spawn(
        repo_url=f"file://{remote}", workdir=root / "e2e-work", log=root / "e2e-function.log"
    )
    try:
        server.ready()
        latencies = _publish_and_watch(remote, server.url, WARMUP + events)[WARMUP:]
    finally:
        server.stop()
        if emulator is not None:
            stop_emulator(emulator)
            del os.environ["PUBSUB_EMULATOR_HOST"]
    return {"files": files, "commits": commits, "latency": Figure.of(latencies).to_json()}


def _publish_and_watch(remote: Path, push_to: str, events: int) -> list[float]:
    import google.cloud.pubsub_v1 as pubsub_v1

    from promoter.pubsub import ensure_subscription

    topic = ensure_subscription(EMULATOR_PROJECT, "bench-push", push_to=push_to)
    publisher = pubsub_v1.PublisherClient()
    clock, latencies = Clock(), []
    for _ in range(events):
        body = build_body(TARGET, clock)
        before = _ref(remote)
        started = time.perf_counter()
        data = json.dumps(body).encode()
        published = publisher.publish(topic, data, buildId=body["id"], status="SUCCESS")
        _await_new_tip(remote, before)
        latencies.append(time.perf_counter() - started)
        published.result(timeout=30)
    return latencies


def _await_new_tip(remote: Path, before: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while _ref(remote) == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no commit on {remote} within {TIMEOUT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)


def _ref(bare: Path, name: str = "refs/heads/main") -> str:
    """The ref's commit id, read from the files git keeps it in (cheaper than a git process)."""
    loose = bare / name
    if loose.is_file():
        return loose.read_text().strip()
    for line in (bare / "packed-refs").read_text().splitlines():
        if line.endswith(f" {name}"):
            return line.split()[0]
    raise LookupError(f"{name} not found in {bare}")
