"""Builds verified with Cloud Build before anything is written (issue 10, first slice).

The Cloud Build API is faked at the wire (tests/cloudbuild_fake.py) and reached through the
real google-cloud-build client; everything else is real: the CLI, the function, bare repos.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from promoter.errors import ConfigError
from promoter.settings import Settings

from . import cloudbuild_fake
from .conftest import build, count_commits, digest_of, free_port, git, promote_cli, show
from .test_function import post_binary


def verified_env(host: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PROMOTER_VERIFY_BUILDS": "true",
        "CLOUDBUILD_EMULATOR_HOST": host,
        **extra,
    }


@pytest.fixture
def api():
    with cloudbuild_fake.serving() as fake:
        yield fake


def promote(event, remote, workdir, host):
    done = promote_cli(event, remote, workdir, env=verified_env(host))
    result = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, result, done.stderr


def test_a_confirmed_build_promotes_with_the_facts_cloud_build_gives(
    api, make_config_repo, workdir
):
    remote = make_config_repo()
    genuine = build(digest=digest_of("genuine"))
    api.add(genuine)
    message = copy.deepcopy(genuine)
    del message["substitutions"]["TRIGGER_NAME"], message["logUrl"]  # the message lacks them
    code, result, stderr = promote(message, remote, workdir, api.host)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    log = git("--git-dir", remote, "log", "-1", "--format=%B", "main")
    assert "trigger web-main" in log and f"Build-Log: {genuine['logUrl']}" in log
    assert api.requests == [
        f"/v1/projects/demo-shop/builds/{genuine['id']}?%24alt=json%3Benum-encoding%3Dint"
    ]


def test_the_message_name_picks_the_regional_endpoint(api, make_config_repo, workdir):
    genuine = build()
    api.add(genuine)
    message = {
        **genuine,
        "name": f"projects/demo-shop/locations/europe-west1/builds/{genuine['id']}",
    }
    code, result, _ = promote(message, make_config_repo(), workdir, api.host)
    assert (code, result["outcome"]) == (0, "promoted")
    assert api.requests[0].startswith(
        f"/v1/projects/demo-shop/locations/europe-west1/builds/{genuine['id']}?"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"digest": "other"}, "europe-west1-docker.pkg.dev/demo-shop/apps/web digest sha256:"),
        ({"status": "FAILURE"}, "status SUCCESS, Cloud Build says FAILURE"),
        ({"projectId": "elsewhere"}, "Cloud Build has no build"),
        ({"unknown": True}, "Cloud Build has no build"),
    ],
)
def test_a_message_cloud_build_contradicts_writes_nothing(
    api, make_config_repo, workdir, change, expected
):
    remote = make_config_repo()
    message = build(digest=digest_of("claimed"))
    actual = copy.deepcopy(message)
    if "digest" in change:
        actual["results"]["images"][0]["digest"] = digest_of("built")
    if "status" in change:
        actual["status"] = change["status"]
    if "projectId" in change:
        message["projectId"] = change["projectId"]
    if "unknown" not in change:
        api.add(actual)
    code, result, _ = promote(message, remote, workdir, api.host)
    assert (code, result["outcome"]) == (0, "ignored")
    assert result["reason"].startswith("not verified: ") and expected in result["reason"]
    assert count_commits(remote) == 1


@pytest.mark.parametrize("status", [503, 500, 429])
def test_the_api_failing_is_transient_and_the_redelivery_promotes(
    api, make_config_repo, workdir, status
):
    remote = make_config_repo()
    event = build(digest=digest_of("later"))
    api.add(event)
    api.status = status
    code, result, stderr = promote(event, remote, workdir, api.host)
    assert (code, result) == (75, None)
    assert f"Cloud Build answered {status}" in stderr
    api.status = None
    code, result, _ = promote(event, remote, workdir, api.host)
    assert (code, result["outcome"]) == (0, "promoted")
    assert digest_of("later") in show(remote, "clusters/dev/deployment.yaml")


def test_an_unreachable_api_is_transient(make_config_repo, workdir):
    code, result, stderr = promote(build(), make_config_repo(), workdir, f"127.0.0.1:{free_port()}")
    assert (code, result) == (75, None)
    assert "Cloud Build unreachable" in stderr and "Traceback" not in stderr


def test_a_refusal_names_the_missing_role_and_keeps_the_message(
    api, make_config_repo, function_server
):
    api.add(build())
    api.status = 403
    server = function_server(
        make_config_repo(), PROMOTER_VERIFY_BUILDS="true", CLOUDBUILD_EMULATOR_HOST=api.host
    )
    response = post_binary(server.url, build())
    assert response.status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert "roles/cloudbuild.builds.viewer" in line["message"]


def test_the_function_logs_a_contradicted_message_as_a_warning(
    api, make_config_repo, function_server
):
    server = function_server(
        make_config_repo(), PROMOTER_VERIFY_BUILDS="true", CLOUDBUILD_EMULATOR_HOST=api.host
    )
    forged = build()
    response = post_binary(server.url, forged)
    assert response.status_code == 200
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"], line["buildId"]) == (
        "WARNING",
        "ignored",
        forged["id"],
    )
    assert line["message"].startswith("ignored: not verified: ")


@pytest.mark.parametrize(
    ("environ", "verify"),
    [
        ({}, False),
        ({"K_SERVICE": "promoter"}, True),
        ({"K_SERVICE": "promoter", "PROMOTER_VERIFY_BUILDS": "false"}, False),
        ({"PROMOTER_VERIFY_BUILDS": "true"}, True),
        ({"PROMOTER_VERIFY_BUILDS": "TRUE"}, True),
    ],
)
def test_verification_is_on_by_default_where_k_service_is_set(environ, verify):
    assert Settings.build(repo="/x", environ=environ).verify_builds is verify


def test_a_bad_switch_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^PROMOTER_VERIFY_BUILDS: expected true or false"):
        Settings.build(repo="/x", environ={"PROMOTER_VERIFY_BUILDS": "maybe"})


# Trust rules in promoter.yaml


TRUST = "trust:\n  projects: [demo-shop]\n  triggers: [web-main, 0f3c9a1e-trigger]\n"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"buildTriggerId": "0f3c9a1e-trigger", "TRIGGER_NAME": "renamed"}, None),
        ({"TRIGGER_NAME": "someone-elses"}, "not trusted: trigger someone-elses"),
        ({"projectId": "other-project"}, "not trusted: project other-project"),
    ],
)
def test_trust_rules_read_the_verified_build(api, make_config_repo, workdir, changes, reason):
    remote = make_config_repo({"promoter.yaml": TRUST})
    event = build()
    if "TRIGGER_NAME" in changes:
        event["substitutions"]["TRIGGER_NAME"] = changes["TRIGGER_NAME"]
    for key in ("buildTriggerId", "projectId"):
        if key in changes:
            event[key] = changes[key]
    api.add(event)
    code, result, stderr = promote(event, remote, workdir, api.host)
    assert code == 0, stderr
    if reason is None:
        assert result["outcome"] == "promoted"
    else:
        assert result["outcome"] == "ignored" and result["reason"].startswith(reason)
        assert count_commits(remote) == 1


@pytest.mark.parametrize("requested", [None, "NOT_VERIFIED", "VERIFIED"])
def test_provenance_can_be_required(api, make_config_repo, workdir, requested):
    remote = make_config_repo({"promoter.yaml": "trust:\n  requireProvenance: true\n"})
    event = build()
    if requested:
        event["options"] = {"requestedVerifyOption": requested}
    api.add(event)
    code, result, _ = promote(event, remote, workdir, api.host)
    if requested == "VERIFIED":
        assert (code, result["outcome"]) == (0, "promoted")
    else:
        assert (code, result["outcome"]) == (0, "ignored")
        assert result["reason"].startswith("not trusted: the build did not ask for verified")


def test_a_repo_that_requires_verification_refuses_an_instance_without_it(
    make_config_repo, workdir
):
    remote = make_config_repo({"promoter.yaml": "trust:\n  verify: cloudbuild\n"})
    env = {**os.environ, "PROMOTER_VERIFY_BUILDS": "false"}
    done = promote_cli(build(), remote, workdir, env=env)
    result = json.loads(done.stdout)
    assert (done.returncode, result["outcome"]) == (0, "ignored")
    assert result["reason"].startswith("not verified: promoter.yaml requires builds verified")
    assert count_commits(remote) == 1


def test_the_function_answers_503_while_the_api_fails_then_promotes(
    api, make_config_repo, function_server
):
    remote = make_config_repo()
    event = build(digest=digest_of("retried"))
    api.add(event)
    api.status = 503
    server = function_server(
        remote, PROMOTER_VERIFY_BUILDS="true", CLOUDBUILD_EMULATOR_HOST=api.host
    )
    assert post_binary(server.url, event).status_code == 503
    api.status = None
    assert post_binary(server.url, event).status_code == 200  # Pub/Sub's redelivery
    outcomes = [(line["severity"], line["outcome"]) for line in server.log_lines()]
    assert outcomes == [("WARNING", "retry"), ("NOTICE", "promoted")]
    assert digest_of("retried") in show(remote, "clusters/dev/deployment.yaml")
