"""The function through a real functions-framework server, in every form a message arrives."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import build, count_commits, digest_of, show

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "//pubsub.googleapis.com/projects/demo-shop/topics/cloud-builds"


def message(body: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(body).encode()).decode()
    return {
        "data": data,
        "attributes": {"buildId": body["id"], "status": body["status"]},
        "messageId": str(uuid.uuid4()),
        "publishTime": "2026-03-02T09:14:08.001Z",
    }


def push_body(body: dict[str, Any]) -> dict[str, Any]:
    return {"message": message(body), "subscription": "projects/demo-shop/subscriptions/promoter"}


def post_binary(url: str, body: dict[str, Any]) -> requests.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": TOPIC,
        "ce-id": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    return requests.post(url, json=push_body(body), headers=headers, timeout=60)


def post_structured(url: str, body: dict[str, Any]) -> requests.Response:
    envelope = {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": TOPIC,
        "id": str(uuid.uuid4()),
        "datacontenttype": "application/json",
        "data": push_body(body),
    }
    headers = {"Content-Type": "application/cloudevents+json"}
    return requests.post(url, data=json.dumps(envelope), headers=headers, timeout=60)


def post_raw_push(url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(url, json=push_body(body), timeout=60)


def post_gen1(url: str, body: dict[str, Any]) -> requests.Response:
    legacy = {
        "context": {
            "eventId": str(uuid.uuid4()),
            "timestamp": "2026-03-02T09:14:08.001Z",
            "eventType": "google.pubsub.topic.publish",
            "resource": {
                "service": "pubsub.googleapis.com",
                "name": "projects/demo-shop/topics/cloud-builds",
                "type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
            },
        },
        "data": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage", **message(body)},
    }
    return requests.post(url, json=legacy, timeout=60)


@pytest.mark.parametrize("post", [post_binary, post_structured, post_raw_push, post_gen1])
def test_every_delivery_form_promotes(make_config_repo, function_server, post):
    remote = make_config_repo()
    server = function_server(remote)
    digest = digest_of(post.__name__)

    response = post(server.url, build(digest=digest))

    assert response.status_code == 200, response.text
    assert digest in show(remote, "clusters/dev/kustomization.yaml")
    [line] = server.log_lines()
    assert line["severity"] == "NOTICE" and line["outcome"] == "promoted"
    assert line["commit"] and line["buildId"] and line["durationMs"] > 0


def test_redelivery_and_failed_builds_answer_200_without_commits(make_config_repo, function_server):
    remote = make_config_repo()
    server = function_server(remote)
    event = build()
    assert post_binary(server.url, event).status_code == 200
    commits = count_commits(remote)

    assert post_binary(server.url, event).status_code == 200
    assert post_binary(server.url, build(status="FAILURE")).status_code == 200

    assert count_commits(remote) == commits
    assert [line["outcome"] for line in server.log_lines()] == ["promoted", "unchanged", "ignored"]


def test_invalid_event_is_acknowledged_and_logged_as_error(make_config_repo, function_server):
    remote = make_config_repo()
    server = function_server(remote)
    response = post_binary(server.url, build(digest="sha256:nothex"))
    assert response.status_code == 200
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "invalid")
    assert "digest" in line["message"] and "\n" not in line["message"]
    assert count_commits(remote) == 1


def test_garbage_data_is_acknowledged(make_config_repo, function_server):
    server = function_server(make_config_repo())
    body: dict[str, Any] = {
        "message": {"data": "%%% not base64", "messageId": "1"},
        "subscription": "projects/p/subscriptions/s",
    }
    response = requests.post(server.url, json=body, timeout=30)
    assert response.status_code == 200
    assert server.log_lines()[0]["severity"] == "ERROR"


def test_unreachable_remote_answers_503_so_pubsub_retries(function_server):
    server = function_server("git://127.0.0.1:9/nowhere.git")
    response = post_binary(server.url, build())
    assert response.status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("WARNING", "retry")


def test_missing_repo_setting_answers_503(function_server):
    server = function_server("")
    assert post_binary(server.url, build()).status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert "PROMOTER_REPO_URL" in line["message"]


def test_without_git_the_function_starts_and_answers_503_with_one_error_line(
    make_config_repo, function_server, tmp_path
):
    """No git on PATH (a runtime image without it): the server still loads the function, and
    each delivery waits in Pub/Sub with one ERROR line that says what is missing."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    server = function_server(make_config_repo(), PATH=str(empty))
    assert post_binary(server.url, build()).status_code == 503
    lines = server.log.read_text().splitlines()
    assert "Traceback" not in "\n".join(lines)
    [started, line] = server.log_lines()
    assert started == {
        "severity": "ERROR",
        "message": "at start-up: " + line["message"].removeprefix("retry: "),
    }
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert line["message"].startswith("retry: git: not found on PATH")


# Whose fault decides the answer: the config repo or the deployment being wrong keeps the
# message (503, one ERROR line saying what to fix) until it is fixed; then the build lands.


@pytest.mark.parametrize(
    ("files", "env", "expected"),
    [
        ({"promoter.yaml": "images: [unclosed\n"}, {}, "promoter.yaml: not valid YAML"),
        ({"promoter.yaml": "images: " + "[" * 3000 + "]" * 3000}, {}, "recursion depth"),
        ({"promoter.yaml": "images:\n  # - repository: x\n"}, {}, "images: has no entries"),
        ({".promoter/ledger.jsonl": "{not json\n"}, {}, ".promoter/ledger.jsonl: line 1"),
        ({}, {"PROMOTER_BRANCH": "nope"}, "branch 'nope' not found"),
        ({}, {"PROMOTER_POLICY": "ops/policy.yaml"}, "ops/policy.yaml: not found on branch"),
    ],
)
def test_a_wrong_config_repo_or_deployment_keeps_the_message(
    files, env, expected, make_config_repo, function_server
):
    remote = make_config_repo(files)
    server = function_server(remote, **env)
    response = post_binary(server.url, build())
    assert response.status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert expected in line["message"], line["message"]
    assert count_commits(remote) == 1


def test_the_build_lands_once_the_config_repo_is_fixed(make_config_repo, function_server, tmp_path):
    from .conftest import git

    remote = make_config_repo({"promoter.yaml": "images: [unclosed\n"})
    server = function_server(remote)
    event = build(digest=digest_of("waited"))
    assert post_binary(server.url, event).status_code == 503
    fix = tmp_path / "fix"
    git("clone", "-q", remote, fix)
    (fix / "promoter.yaml").unlink()
    git("commit", "-qam", "Remove the broken policy", cwd=fix)
    git("push", "-q", "origin", "HEAD:main", cwd=fix)
    assert post_binary(server.url, event).status_code == 200  # Pub/Sub's redelivery
    assert digest_of("waited") in show(remote, "clusters/dev/kustomization.yaml")


def test_a_git_too_old_is_the_deployments_fault(make_config_repo, function_server, tmp_path):
    """git older than 2.31 ignores GIT_CONFIG_COUNT, which carries the token's credential helper:
    a stand-in that answers `--version` as an old git would is refused before any event runs."""
    fake = tmp_path / "old-git"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\necho 'git version 2.30.9'\n")
    (fake / "git").chmod(0o755)
    server = function_server(make_config_repo(), PATH=f"{fake}:/usr/bin:/bin")
    assert post_binary(server.url, build()).status_code == 503
    [started, line] = server.log_lines()
    assert started["message"].startswith("at start-up: git: git version 2.30.9 found")
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert "git: git version 2.30.9 found; the promoter needs git 2.31 or newer" in line["message"]
