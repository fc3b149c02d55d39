"""Hostile events: thousands of malformed or malicious messages through the real entry logic.

Every one must be acknowledged (never an unhandled exception), log exactly one line, and never
produce a commit unless it is a genuinely valid build; a valid build's commit carries only the
trailers the promoter writes, whatever its substitutions say.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from promoter.events import parse_event
from promoter.handling import handle
from promoter.settings import Settings

from .conftest import DATA, WEB, count_commits, git, promote_argv

TEMPLATE = json.loads((DATA / "builds" / "success-template.json").read_text())
TRAILER_KEYS = {"Build-Id", "Build-Create-Time", "Image", "Source-Commit", "Build-Log"}

hostile_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "main\nBuild-Id: forged",
            "x\r\nImage: evil@sha256:" + "0" * 64,
            "Signed-off-by: a <b>",
            "\u2028Source-Commit: 0",
            "[skip ci]",
            "../../etc/passwd",
            "\x00",
            "a" * 300,
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "status", "createTime", "results", "substitutions", "logUrl", "projectId"]


@st.composite
def hostile_builds(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(TEMPLATE))
    body["id"] = draw(st.uuids()).hex if draw(st.booleans()) else draw(hostile_text)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        if draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = draw(json_values)
    if draw(st.booleans()) and isinstance(body.get("results"), dict):
        image = {"name": draw(hostile_text | st.just(f"{WEB}:ok")), "digest": draw(hostile_text)}
        body["results"]["images"] = [image]
    if draw(st.booleans()):
        body["substitutions"] = {
            k: draw(hostile_text) for k in ("BRANCH_NAME", "TRIGGER_NAME", "COMMIT_SHA")
        }
    return body


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "build", "push", "bad-base64", "non-utf8"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    build = json.dumps(draw(hostile_builds())).encode()
    if kind == "build":
        return build
    data = {
        "push": base64.b64encode(build).decode(),
        "bad-base64": draw(st.text(max_size=40)) + "%%",
        "non-utf8": base64.b64encode(b"\xff\xfe" + build).decode(),
    }[kind]
    return json.dumps({"message": {"data": data, "messageId": "1"}, "subscription": "s"}).encode()


@pytest.fixture(scope="module")
def repo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("hostile")
    seed = root / "seed"
    (seed / "clusters").mkdir(parents=True)
    (seed / "clusters/web.yaml").write_text(
        f"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
        f"      containers:\n        - name: web\n          image: {WEB}:1.0\n"
    )
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "Seed", cwd=seed)
    git("clone", "-q", "--bare", seed, root / "remote.git")
    return Settings.build(repo=str(root / "remote.git"), workdir=str(root / "work"), environ={})


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=hostile_bodies())
def test_hostile_messages_are_acknowledged_with_one_log_line(
    repo_settings: Settings, raw: bytes
) -> None:
    remote = Path(repo_settings.remote.url)
    before = count_commits(remote)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        acked = handle(lambda: parse_event(raw), lambda: repo_settings)
    lines = out.getvalue().splitlines()
    assert acked and len(lines) == 1
    entry = json.loads(lines[0])
    event(entry["outcome"])
    assert entry["outcome"] in ("invalid", "ignored", "unchanged", "promoted")
    assert "\n" not in entry["message"]
    if entry["outcome"] != "promoted":
        assert count_commits(remote) == before
        return
    assert count_commits(remote) == before + 1
    trailers = git(
        "--git-dir", remote, "log", "-1", "--format=%(trailers:only,unfold)"
    ).splitlines()
    assert {line.split(":", 1)[0] for line in trailers} <= TRAILER_KEYS
    assert trailers[0] == f"Build-Id: {entry['buildId']}"


CLOCK = iter(range(10**9))


@settings(max_examples=80, deadline=None)
@given(
    trigger=hostile_text,
    commit=hostile_text,
    log_url=hostile_text | st.just("https://console.cloud.google.com/x\nBuild-Id: forged"),
    project=hostile_text,
)
def test_valid_builds_with_hostile_fields_commit_only_our_trailers(
    repo_settings: Settings, trigger: str, commit: str, log_url: str, project: str
) -> None:
    n = next(CLOCK)
    body = json.loads(json.dumps(TEMPLATE))
    body.update(
        id=f"b{n:08d}-hostile",
        createTime=f"2026-11-01T00:00:00.{n:09d}Z",
        logUrl=log_url,
        projectId=project,
    )
    body["results"]["images"][0]["digest"] = "sha256:" + f"{n:064x}"
    body["substitutions"].update(TRIGGER_NAME=trigger, COMMIT_SHA=commit)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert handle(lambda: parse_event(json.dumps(body)), lambda: repo_settings)
    assert json.loads(out.getvalue())["outcome"] == "promoted"
    remote = Path(repo_settings.remote.url)
    message = git("--git-dir", remote, "log", "-1", "--format=%B")
    trailers = git(
        "--git-dir", remote, "log", "-1", "--format=%(trailers:only,unfold)"
    ).splitlines()
    assert {line.split(":", 1)[0] for line in trailers} <= TRAILER_KEYS
    assert [t for t in trailers if t.startswith("Build-Id:")] == [f"Build-Id: {body['id']}"]
    assert "forged" not in "".join(trailers) and "\r" not in message


def test_hostile_cli_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    bodies = [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"message": {"data": "@@"}}',
        json.dumps(
            {**TEMPLATE, "results": {"images": [{"name": "Web:Latest", "digest": "sha256:x"}]}}
        ).encode(),
        json.dumps({**TEMPLATE, "substitutions": {"BRANCH_NAME": "main\nBuild-Id: x"}}).encode(),
    ]
    for body in bodies:
        done = subprocess.run(
            promote_argv(str(tmp_path / "never-read.git"), str(tmp_path / "w")),
            input=body,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 2, body
        assert done.stdout == b"" and len(done.stderr.decode().strip().splitlines()) == 1
        assert b"Traceback" not in done.stderr
