"""The event chain: `promoted` messages, and `on_promoted_event` promoting the next environment."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from promoter.audit import FileChange
from promoter.chain import Promoted, promoted
from promoter.environments import Environment
from promoter.envpromotion import follow
from promoter.errors import GateClosed, InvalidEvent
from promoter.pubsub import ensure_subscription, publish
from promoter.settings import Settings

from .conftest import DATA, WEB, Server, build, count_commits, digest_of, show
from .envs import POLICY, PROD, dev_prod_repo, promoted_in_dev

QA = "clusters/qa/deployment.yaml"


def post_promoted(url: str, message: Promoted | dict[str, Any], *, published: str) -> Any:
    data = message.data() if isinstance(message, Promoted) else json.dumps(message).encode()
    body: dict[str, Any] = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": str(uuid.uuid4()),
            "publishTime": published,
        },
        "subscription": "projects/demo-shop/subscriptions/promoted",
    }
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/demo-shop/topics/promoted",
        "ce-id": str(uuid.uuid4()),
    }
    return requests.post(url, json=body, headers=headers, timeout=60)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def started_chain(
    make_config_repo: Any, function_server: Any, tmp_path: Path, extra: str = ""
) -> tuple[Path, Promoted, Server]:
    """A dev -> prod repo with build b1 promoted into dev, its `promoted` message, and the
    function server of the chain."""
    remote = dev_prod_repo(make_config_repo, extra)
    commit = promoted_in_dev(remote, tmp_path / "w", 1)
    message = Promoted("dev", WEB, digest_of(1), "b1", commit)
    return remote, message, function_server(remote, target="on_promoted_event")


def test_a_promoted_message_round_trips_and_bad_ones_name_the_field():
    message = Promoted("dev", WEB, digest_of(1), "b1", "c" * 40)
    assert Promoted.from_data(message.data()) == message
    no_environment = Promoted(None, WEB, digest_of(1), "b1", "c" * 40)
    assert Promoted.from_data(no_environment.data()) == no_environment
    assert message.attributes() == {"kind": "promoted", "environment": "dev", "image": WEB}
    for data, field in [
        (b"nope", "expected JSON"),
        (b'{"kind": "other"}', "expected an object with kind 'promoted'"),
        (b'{"kind": "released"}', "expected an object with kind 'promoted'"),  # sorts after
        (b'{"image": "x"}', "expected an object with kind 'promoted'"),
        (json.dumps({**json.loads(message.data()), "environment": 5}).encode(), "environment"),
        (json.dumps({**json.loads(message.data()), "digest": "sha256:x"}).encode(), "digest"),
        (json.dumps({**json.loads(message.data()), "commit": 3}).encode(), "commit"),
    ]:
        with pytest.raises(InvalidEvent, match=field):
            Promoted.from_data(data)


def test_one_message_per_environment_and_image_of_a_commit():
    envs = [Environment("dev", ("dev/**",)), Environment("prod", ("prod/**",), source="dev")]
    new = f"{WEB}@{digest_of(1)}"
    changes = [
        FileChange("a-elsewhere/c.yaml", WEB, WEB, new),  # outside every environment, first
        FileChange("dev/a.yaml", WEB, WEB, new),
        FileChange("dev/b.yaml", WEB, WEB, new),
        FileChange("elsewhere/c.yaml", WEB, WEB, new),
    ]
    assert promoted(changes, environments=envs, build_id="b1", commit="c") == [
        Promoted("dev", WEB, digest_of(1), "b1", "c")
    ]
    assert promoted(changes[1:2], environments=[], build_id="b1", commit="c") == [
        Promoted(None, WEB, digest_of(1), "b1", "c")
    ]


def test_on_promoted_event_promotes_the_next_environment(
    make_config_repo, function_server, tmp_path
):
    remote, message, server = started_chain(make_config_repo, function_server, tmp_path)
    response = post_promoted(server.url, message, published=now())
    assert response.status_code == 200, response.text
    assert digest_of(1) in show(remote, PROD)
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"], line["environment"]) == ("NOTICE", "promoted", "dev")
    # Delivered twice: nothing more.
    commits = count_commits(remote)
    assert post_promoted(server.url, message, published=now()).status_code == 200
    assert count_commits(remote) == commits
    assert server.log_lines()[-1]["outcome"] == "unchanged"


def test_a_closed_gate_answers_503_until_the_message_is_a_day_old(
    make_config_repo, function_server, tmp_path
):
    extra = "    soak: 2h\n"
    remote, message, server = started_chain(make_config_repo, function_server, tmp_path, extra)
    commits = count_commits(remote)
    assert post_promoted(server.url, message, published=now()).status_code == 503
    waiting = server.log_lines()[-1]
    assert (waiting["severity"], waiting["outcome"]) == ("INFO", "waiting")
    assert "soak" in waiting["message"] and "left" in waiting["message"]
    old = "2026-01-01T00:00:00Z"
    assert post_promoted(server.url, message, published=old).status_code == 200
    dropped = server.log_lines()[-1]
    assert (dropped["severity"], dropped["outcome"]) == ("ERROR", "dropped")
    assert count_commits(remote) == commits


def test_manual_environments_and_bad_messages_are_acknowledged(
    make_config_repo, function_server, tmp_path
):
    extra = "    auto: false\n"
    remote, message, server = started_chain(make_config_repo, function_server, tmp_path, extra)
    commits = count_commits(remote)
    assert post_promoted(server.url, message, published=now()).status_code == 200
    assert server.log_lines()[-1]["message"] == (
        "ignored: no environment with auto promotion comes from dev"
    )
    assert post_promoted(server.url, {"kind": "x"}, published=now()).status_code == 200
    assert server.log_lines()[-1]["outcome"] == "invalid"
    assert count_commits(remote) == commits


def test_every_auto_environment_dev_feeds_is_tried_and_a_closed_gate_is_raised_after(
    make_config_repo, tmp_path
):
    """dev feeds prod and qa. prod soaks and qa does not: qa is promoted, then follow says why
    prod was not. Both open: both are promoted, one result each, in the policy's order."""
    qa = '  - name: qa\n    paths: ["clusters/qa/**"]\n    from: dev\n'
    deployment = (DATA / "configrepo" / PROD).read_text()

    def fed_by(remote: Path, n: int) -> tuple[Promoted, Settings]:
        commit = promoted_in_dev(remote, tmp_path / f"w{n}", 1)
        settings = Settings.build(repo=str(remote), workdir=str(tmp_path / f"f{n}"), environ={})
        return Promoted("dev", WEB, digest_of(1), "b1", commit), settings

    soaking = make_config_repo(
        {"promoter.yaml": POLICY.format(extra="    soak: 2h\n" + qa), QA: deployment}
    )
    message, settings = fed_by(soaking, 1)
    with pytest.raises(GateClosed, match=f"^not promoted to prod: soak: {WEB}: soaking: "):
        follow(message, settings)
    assert digest_of(1) in show(soaking, QA) and digest_of(1) not in show(soaking, PROD)
    commits = count_commits(soaking)
    with pytest.raises(GateClosed):  # delivered again: qa is unchanged, prod still soaks
        follow(message, settings)
    assert count_commits(soaking) == commits

    open_ = make_config_repo({"promoter.yaml": POLICY.format(extra=qa), QA: deployment})
    results = follow(*fed_by(open_, 2))
    assert [(r.outcome, [c.path for c in r.changes]) for r in results] == [
        ("promoted", [PROD]),
        ("promoted", [QA]),
    ]
    assert digest_of(1) in show(open_, PROD) and digest_of(1) in show(open_, QA)


@pytest.mark.emulator
def test_build_to_dev_to_prod_through_the_emulator(
    emulator, make_config_repo, function_server, tmp_path
):
    remote = dev_prod_repo(make_config_repo)
    project = f"p{uuid.uuid4().hex[:12]}"
    chain = function_server(remote, target="on_promoted_event")
    promoted_topic = ensure_subscription(project, "chain", chain.url, topic_name="promoted")
    builds = function_server(remote, PROMOTER_EVENTS_TOPIC=promoted_topic)
    build_topic = ensure_subscription(project, "builds", builds.url)
    event = build(digest=digest_of("chain"))
    publish(build_topic, json.dumps(event).encode())
    deadline = time.monotonic() + 60
    while digest_of("chain") not in show(remote, PROD) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert digest_of("chain") in show(remote, PROD)
    assert digest_of("chain") in show(remote, "clusters/dev/deployment.yaml")
    assert [line["outcome"] for line in builds.log_lines()] == ["promoted"]
    assert chain.log_lines()[0]["outcome"] == "promoted"
