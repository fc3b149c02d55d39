"""Scenarios 5 and 6: promoter processes racing on one remote, and their peak memory.

Each process is a functions-framework server with its own workdir (one instance each); one
delivery thread per server keeps one event in flight on it. A 503 is delivered again, as Pub/Sub
would. Builds are made in time order across the images and delivered in that order, so nearly
every event is a promotion; the remote must end with every image's newest build.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import random
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.repos import build_repo, fresh_copy, service_image, service_path, tip
from bench.scenarios import Clock, build_body, floor_cycle
from bench.servers import FunctionServer
from bench.stats import Figure, measure

FLOOR_WARMUP = 2
DEADLINE_SECONDS = 600.0


def run_contention(
    root: Path, *, processes: int, images: int, builds_per_image: int, floor_runs: int
) -> dict[str, Any]:
    """Promotions per second with `processes` racing, against 1 / the git floor's cycle time."""
    generated = build_repo(root, files=images + 1, commits=200)
    floor = _floor(generated, root, floor_runs)
    remote = fresh_copy(generated, root / "contention")
    builds = _builds(images, 1 + builds_per_image)
    warmup, timed = builds[:images], builds[images:]
    with _servers(remote, root, processes) as servers:
        _deliver(warmup, servers)  # every process clones and serves a few events first
        seen = [len(server.log_lines()) for server in servers]
        commits_before = _count_commits(remote)
        started = time.perf_counter()
        redeliveries = _deliver(timed, servers)
        elapsed = time.perf_counter() - started
        peak_rss = [server.peak_rss_bytes() for server in servers]
        logs = [line for s, n in zip(servers, seen, strict=True) for line in s.log_lines()[n:]]
    promoted = [line for line in logs if line.get("outcome") == "promoted"]
    _assert_no_lost_update(remote, builds, images)
    _assert_one_commit_per_promotion(remote, commits_before, len(promoted))
    per_second = len(promoted) / elapsed
    return {
        "processes": processes,
        "images": images,
        "warmup_events": len(warmup),
        "events": len(timed),
        "seconds": elapsed,
        "outcomes": dict(Counter(line.get("outcome") for line in logs)),
        "redeliveries": redeliveries,
        "events_per_second": len(timed) / elapsed,
        "promotions_per_second": per_second,
        "retries_per_promotion": sum(line["attempts"] - 1 for line in promoted) / len(promoted),
        "floor": floor.to_json(),
        "floor_per_second": 1 / floor.median,
        "ratio_to_floor": per_second * floor.median,
        "lost_updates": 0,
        "peak_rss_bytes": {
            "max": max(peak_rss),
            "median": Figure.of(peak_rss).median,
            "per_process": peak_rss,
        },
    }


def _floor(generated: Path, root: Path, runs: int) -> Figure:
    """The git floor's cycle on a copy of the same repo, alone."""
    cycle = floor_cycle(fresh_copy(generated, root / "contention-floor"), root / "floor-clone")
    return measure({"floor": cycle}, warmup=FLOOR_WARMUP, runs=runs)["floor"]


@contextlib.contextmanager
def _servers(remote: Path, root: Path, processes: int) -> Iterator[list[FunctionServer]]:
    servers = [
        FunctionServer.spawn(
            repo_url=f"file://{remote}",
            workdir=root / f"contention-work-{n}",
            log=root / f"contention-function-{n}.log",
        )
        for n in range(processes)
    ]
    try:
        for server in servers:
            server.ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _builds(images: int, per_image: int) -> list[dict[str, Any]]:
    """`per_image` rounds of one build of every image, in creation order.

    Every round takes the images in one shuffled order, so two builds of an image are `images`
    events apart and seldom in flight together (the older one would then change nothing).
    """
    order, clock = random.Random(5).sample(range(images), images), Clock()
    return [build_body(service_image(i), clock) for _ in range(per_image) for i in order]


def _deliver(builds: list[dict[str, Any]], servers: list[FunctionServer]) -> int:
    """Deliver every build, one at a time per server; return how many came back 503."""
    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for body in builds:
        work.put(body)
    redeliveries: Counter[str] = Counter()
    deadline = time.monotonic() + DEADLINE_SECONDS
    errors: list[BaseException] = []

    def worker(server: FunctionServer) -> None:
        try:
            while time.monotonic() < deadline:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                if not _post(server.url, body):
                    redeliveries["503"] += 1
                    work.put(body)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    if not work.empty():
        raise TimeoutError(f"{work.qsize()} events left after {DEADLINE_SECONDS:.0f} s")
    return redeliveries["503"]


def _post(url: str, body: dict[str, Any]) -> bool:
    """Push one build as Pub/Sub does; True when acknowledged, False on 503 (deliver again)."""
    message = {
        "data": base64.b64encode(json.dumps(body).encode()).decode(),
        "attributes": {"buildId": body["id"], "status": body["status"]},
        "messageId": str(uuid.uuid4()),
    }
    envelope = {"message": message, "subscription": "projects/bench/subscriptions/promoter"}
    request = urllib.request.Request(
        url, json.dumps(envelope).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return bool(200 <= response.status < 300)
    except urllib.error.HTTPError as err:
        if err.code == 503:
            return False
        raise


def _assert_no_lost_update(remote: Path, builds: list[dict[str, Any]], images: int) -> None:
    """Every image's manifest on the remote holds the digest of its newest build."""
    newest: dict[str, str] = {}
    for body in builds:  # in creation order: the last one of an image is its newest
        name = body["results"]["images"][0]["name"].rsplit(":", 1)[0]
        newest[name] = body["results"]["images"][0]["digest"]
    lost = []
    for i in range(images):
        text = _git("--git-dir", str(remote), "show", f"main:{service_path(i)}")
        if newest[service_image(i)] not in text:
            lost.append(service_image(i))
    if lost:
        raise AssertionError(f"lost updates: {len(lost)} images lack their newest build: {lost}")


def _assert_one_commit_per_promotion(remote: Path, before: int, promoted: int) -> None:
    merges = _git("--git-dir", str(remote), "rev-list", "--merges", "--count", "main")
    added = _count_commits(remote) - before
    if merges != "0" or added != promoted:
        raise AssertionError(
            f"{added} commits ({merges} merges) for {promoted} promotions at {tip(remote)}"
        )


def _count_commits(remote: Path) -> int:
    return int(_git("--git-dir", str(remote), "rev-list", "--count", "main"))


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()
