"""`promoter listen`: streaming pull from the real emulator, ack/nack, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promoter.pubsub import ensure_subscription, publish

from .conftest import (
    GitDaemon,
    HungRemote,
    bug_env,
    build,
    count_commits,
    digest_of,
    free_port,
    show,
)

pytestmark = pytest.mark.emulator


def start_worker(
    subscription: str,
    repo: str,
    workdir: Path,
    log: Path,
    *,
    max_in_flight: int = 3,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
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
                str(max_in_flight),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def outcomes(log: Path) -> list[str]:
    return [line["outcome"] for line in log_lines(log) if "outcome" in line]


class Gate:
    """A pre-receive hook that holds every push to `remote` until the test opens the gate."""

    def __init__(self, remote: Path, folder: Path) -> None:
        folder.mkdir()
        self.entered, self.hold = folder / "entered", folder / "hold"
        self.hold.touch()
        hook = remote / "hooks" / "pre-receive"
        # Bounded: a failing test cannot leave the push waiting for more than 30 s.
        hook.write_text(
            "#!/bin/sh\ncat >/dev/null\n"
            f"touch '{self.entered}'\n"
            "n=0\n"
            f"while [ -e '{self.hold}' ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n"
        )
        hook.chmod(0o755)

    def open(self) -> None:
        self.hold.unlink(missing_ok=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


@pytest.fixture
def worker() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Factory: start a worker; every one started is stopped at the end, pass or fail."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(start_worker(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        stop(process)


def new_subscription() -> tuple[str, str]:
    project = f"w{uuid.uuid4().hex[:12]}"
    topic = ensure_subscription(project, "promoter-pull")
    return topic, f"projects/{project}/subscriptions/promoter-pull"


def test_worker_promotes_acks_and_stops_cleanly(emulator, worker, make_config_repo, tmp_path):
    remote = make_config_repo()
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    process = worker(subscription, str(remote), tmp_path / "work", log)

    events = [
        build(create_time=f"2026-03-02T09:{n:02d}:00Z", digest=digest_of(("w", n)))
        for n in range(4)
    ]
    for event in [*events, events[1], build(status="FAILURE")]:
        publish(topic, json.dumps(event).encode())
    publish(topic, b"not json at all")
    wait_until(lambda: len(outcomes(log)) >= 7)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert digest_of(("w", 3)) in show(remote, "clusters/dev/kustomization.yaml")
    assert count_commits(remote) <= 5  # at most one commit per build; older ones may be skipped
    seen = outcomes(log)
    assert seen.count("invalid") == 1 and seen.count("ignored") == 1
    assert "retry" not in seen


def test_transient_failure_is_nacked_and_delivered_again(
    emulator, worker, make_config_repo, tmp_path
):
    remote = make_config_repo()
    port = free_port()
    url = f"git://127.0.0.1:{port}/{remote.name}"
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    process = worker(subscription, url, tmp_path / "work", log)
    publish(topic, json.dumps(build(digest=digest_of("later"))).encode())
    wait_until(lambda: "retry" in outcomes(log))

    with GitDaemon(remote.parent, port) as daemon:
        daemon.start()
        wait_until(lambda: "promoted" in outcomes(log), timeout=60)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert digest_of("later") in show(remote, "clusters/dev/kustomization.yaml")


def test_sigterm_lets_the_promotion_in_flight_finish(emulator, worker, make_config_repo, tmp_path):
    remote = make_config_repo()
    gate = Gate(remote, tmp_path / "gate")
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    process = worker(subscription, str(remote), tmp_path / "work", log)
    publish(topic, json.dumps(build(digest=digest_of("in-flight"))).encode())
    wait_until(gate.entered.exists)
    process.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert process.poll() is None, "the worker exited with a promotion in flight"
    gate.open()
    assert process.wait(timeout=30) == 0

    assert digest_of("in-flight") in show(remote, "clusters/dev/kustomization.yaml")
    messages = [line["message"] for line in log_lines(log)]
    [done] = [n for n, m in enumerate(messages) if m.startswith("promoted")]
    [stopped] = [n for n, m in enumerate(messages) if m.startswith("stopped listening")]
    assert done < stopped, messages


def test_sigterm_ends_the_worker_within_25_s_while_git_hangs(emulator, worker, tmp_path):
    """Two messages in flight against a remote that never answers (one hangs in git, one waits
    for the workspace): SIGTERM still ends the worker within 25 s, exit 0, both messages
    answered with a nack, and no git process left (conftest checks).

    That the nack brings the message back is `test_transient_failure_is_nacked_and_delivered_
    again`'s part: after the stream is closed, the emulator (unlike Pub/Sub, where an ack id
    stays valid until its deadline) ignores a nack of a message whose lease was extended, and
    delivers it again only when its 60 s stream deadline passes.
    """
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    with HungRemote() as hung:
        process = worker(
            subscription,
            hung.url(),
            tmp_path / "work",
            log,
            max_in_flight=2,
            env={"PROMOTER_GIT_TIMEOUT": "600"},
        )
        for n in range(2):
            event = build(digest=digest_of(("hung", n)), build_id=f"hung-{n}")
            publish(topic, json.dumps(event).encode())
        wait_until(lambda: hung.connections >= 1)
        time.sleep(0.5)  # the second message reaches the workspace lock
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(timeout=40) == 0
        took = time.monotonic() - started
    assert took < 25, took
    retried = [line for line in log_lines(log) if line.get("outcome") == "retry"]
    assert sorted(line["buildId"] for line in retried) == ["hung-0", "hung-1"], log.read_text()
    assert all("shutting down" in line["message"] for line in retried)
    assert log_lines(log)[-1]["message"].startswith("stopped listening")


@pytest.mark.parametrize("max_in_flight", [1, 2])
def test_max_in_flight_bounds_the_messages_handled_at_once(
    emulator, worker, make_config_repo, tmp_path, max_in_flight
):
    remote = make_config_repo()
    gate = Gate(remote, tmp_path / "gate")
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    process = worker(subscription, str(remote), tmp_path / "work", log, max_in_flight=max_in_flight)
    publish(topic, json.dumps(build()).encode())
    wait_until(gate.entered.exists)
    publish(topic, b"not json")  # handled at once, if a second message may be in flight
    if max_in_flight > 1:
        wait_until(lambda: outcomes(log) == ["invalid"])
    else:
        time.sleep(3.0)
        assert outcomes(log) == []
    gate.open()
    wait_until(lambda: sorted(outcomes(log)) == ["invalid", "promoted"])
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_a_failed_subscription_stream_exits_75(emulator, worker, tmp_path, make_config_repo):
    missing = f"projects/w{uuid.uuid4().hex[:12]}/subscriptions/does-not-exist"
    log = tmp_path / "worker.log"
    process = worker(missing, str(make_config_repo()), tmp_path / "work", log)
    assert process.wait(timeout=60) == 75
    [line] = [line for line in log_lines(log) if line["severity"] == "ERROR"]
    assert line["message"].startswith("subscription stream failed: ")
    assert "404 Subscription does not exist" in line["message"]  # the stream's own error


def test_listen_with_a_bad_setting_exits_2(tmp_path):
    done = subprocess.run(
        [
            *(sys.executable, "-m", "promoter", "listen"),
            *("--subscription", "projects/p/subscriptions/s"),
            *("--repo", "ftp://127.0.0.1/config.git", "--workdir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "promoter: error: repo: unsupported URL scheme 'ftp' in ftp://127.0.0.1/config.git"
    )


def test_the_worker_verifies_builds_and_acks_what_cloud_build_contradicts(
    emulator, worker, make_config_repo, tmp_path
):
    from . import cloudbuild_fake

    remote = make_config_repo()
    topic, subscription = new_subscription()
    log = tmp_path / "worker.log"
    with cloudbuild_fake.serving() as api:
        genuine = build(digest=digest_of("genuine"))
        api.add(genuine)
        switches = {"PROMOTER_VERIFY_BUILDS": "true", "CLOUDBUILD_EMULATOR_HOST": api.host}
        process = worker(subscription, str(remote), tmp_path / "work", log, env=switches)
        forged = {**genuine, "id": "0000forged", "createTime": "2026-03-03T00:00:00Z"}
        publish(topic, json.dumps(forged).encode())
        publish(topic, json.dumps(genuine).encode())
        wait_until(lambda: sorted(outcomes(log)) == ["ignored", "promoted"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    [ignored] = [line for line in log_lines(log) if line.get("outcome") == "ignored"]
    assert ignored["severity"] == "WARNING" and ignored["buildId"] == "0000forged"
    assert digest_of("genuine") in show(remote, "clusters/dev/kustomization.yaml")
    assert count_commits(remote) == 2


def test_a_message_that_fails_by_a_bug_does_not_stop_the_worker(
    emulator, worker, make_config_repo, tmp_path
):
    remote = make_config_repo()
    topic, subscription = new_subscription()
    log, work, bug = tmp_path / "worker.log", tmp_path / "work", tmp_path / "bug"
    process = worker(subscription, str(remote), work, log, env=bug_env(bug))
    publish(topic, json.dumps(build(create_time="2026-03-02T09:00:00Z")).encode())
    wait_until(lambda: "promoted" in outcomes(log))

    bug.touch()  # from now on, opening the workspace fails as a bug of ours would
    later = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("later"))
    publish(topic, json.dumps(later).encode())
    wait_until(lambda: any("internal error" in line["message"] for line in log_lines(log)))
    [found, *_] = [line for line in log_lines(log) if "internal error" in line["message"]]
    assert (found["severity"], found["outcome"]) == ("ERROR", "retry")  # published just now
    assert found["traceback"].startswith("Traceback")
    assert process.poll() is None  # still listening

    bug.unlink()  # the fix is deployed: the next delivery lands
    wait_until(lambda: outcomes(log).count("promoted") == 2, timeout=60)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert digest_of("later") in show(remote, "clusters/dev/kustomization.yaml")
