"""`promoter hold` and `promoter release`: commits in the config repo that every instance obeys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promoter.errors import ConfigError
from promoter.holds import HOLDS_PATH, ROLLED_BACK_PATH, Hold, Holds, RolledBack

from .conftest import WEB, build, count_commits, digest_of, git, promote_cli, run_cli, show, tip
from .test_function import post_binary

DEV = "clusters/dev/deployment.yaml"
PROD = "clusters/prod/deployment.yaml"


def event(n: int) -> dict[str, Any]:
    return build(create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), build_id=f"b{n}")


def promote(remote: Path, workdir: Path, n: int) -> dict[str, Any]:
    done = promote_cli(event(n), remote, workdir)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def ask(verb: str, remote: Path, workdir: Path, *args: str) -> dict[str, Any]:
    done = run_cli(verb, "--repo", remote, "--workdir", workdir, "--image", WEB, *args)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_hold_made_in_one_workspace_stops_events_in_another_until_released(
    make_config_repo, tmp_path
):
    remote = make_config_repo()
    one, two = tmp_path / "one", tmp_path / "two"
    promote(remote, one, 1)
    held = ask("hold", remote, one, "--reason", "freeze for the launch")
    assert held["outcome"] == "held" and held["commit"] == tip(remote)
    message = git("--git-dir", remote, "log", "-1", "--format=%B")
    assert message.startswith("Hold web\n") and f"Hold: {WEB}\nHold-Path: **" in message
    [record] = [json.loads(line) for line in show(remote, HOLDS_PATH).splitlines()]
    assert (record["repository"], record["path"], record["reason"]) == (
        WEB,
        "**",
        "freeze for the launch",
    )

    commits = count_commits(remote)
    ignored = promote(remote, two, 2)
    assert (ignored["outcome"], ignored["reason"]) == (
        "ignored",
        f"held: {WEB} is held in ** (freeze for the launch)",
    )
    assert count_commits(remote) == commits
    assert digest_of(1) in show(remote, DEV)

    assert ask("hold", remote, two)["outcome"] == "unchanged"  # already held there
    released = ask("release", remote, two)
    assert released["outcome"] == "released"
    assert f"Release: {WEB}\nRelease-Path: **" in git(
        "--git-dir", remote, "log", "-1", "--format=%B"
    )
    assert show(remote, HOLDS_PATH) == ""
    assert ask("release", remote, one)["outcome"] == "unchanged"  # nothing left to release

    # The event ignored while held was not remembered as done: redelivered, it promotes.
    assert promote(remote, one, 2)["outcome"] == "promoted"
    assert digest_of(2) in show(remote, DEV)


def test_a_hold_on_a_glob_keeps_those_files_and_promotes_the_others(make_config_repo, tmp_path):
    remote = make_config_repo()
    ask("hold", remote, tmp_path / "w", "--path", "clusters/prod/**")
    result = promote(remote, tmp_path / "w", 1)
    assert result["outcome"] == "promoted"
    assert PROD not in {c["path"] for c in result["changes"]}
    assert result["reason"].endswith(f"; held: {WEB} is held in clusters/prod/**")
    assert digest_of(1) in show(remote, DEV) and digest_of(1) not in show(remote, PROD)
    # Releasing another glob changes nothing; releasing this one lets the redelivery through.
    assert ask("release", remote, tmp_path / "w", "--path", "clusters/dev/**")["outcome"] == (
        "unchanged"
    )
    assert ask("release", remote, tmp_path / "w", "--path", "clusters/prod/**")["outcome"] == (
        "released"
    )
    again = promote(remote, tmp_path / "w", 1)
    assert [c["path"] for c in again["changes"]] == [PROD]


def test_history_shows_holds_and_releases(make_config_repo, tmp_path):
    remote = make_config_repo()
    ask("hold", remote, tmp_path / "w", "--path", "clusters/prod/**")
    ask("release", remote, tmp_path / "w")
    done = run_cli("history", "--repo", remote, "--workdir", tmp_path / "r", "--json")
    found = json.loads(done.stdout)
    assert [(d["kind"], d["image"], d["paths"]) for d in found] == [
        ("release", WEB, ["clusters/prod/**"]),
        ("hold", WEB, ["clusters/prod/**"]),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--image", WEB + ":1.0"], "--image: expected a repository without tag"),
        (["--image", WEB, "--path", "/etc/**"], "--path: '/etc/**' must stay inside the repo"),
        (["--image", WEB, "--path", "clusters/"], "--path: 'clusters/' can never match a file"),
    ],
)
def test_bad_requests_exit_2_with_one_line_and_commit_nothing(
    make_config_repo, tmp_path, args, expected
):
    remote = make_config_repo()
    done = run_cli("hold", "--repo", remote, "--workdir", tmp_path / "w", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"promoter: error: {expected}") and done.stderr.count("\n") == 1
    assert count_commits(remote) == 1


def test_an_unreadable_holds_file_stops_the_event_it_never_means_no_hold(
    make_config_repo, tmp_path, function_server
):
    remote = make_config_repo({HOLDS_PATH: '{"repository": "x", "path": 3}\n'})
    done = promote_cli(event(1), remote, tmp_path / "w")
    assert done.returncode == 2
    assert done.stderr == (
        f"promoter: error: {HOLDS_PATH}: line 1: expected a record (expected an object of"
        " strings)\n"
    )
    server = function_server(remote)
    assert post_binary(server.url, event(1)).status_code == 503
    [line] = server.log_lines()
    assert line["severity"] == "ERROR" and HOLDS_PATH in line["message"]
    assert count_commits(remote) == 1


def test_holds_parse_cover_and_write_back_sorted():
    text = (
        json.dumps({"repository": "b", "path": "**"})
        + "\n\n"
        + json.dumps({"repository": "a", "path": "prod/**", "reason": "r", "since": "t"})
        + "\n"
    )
    holds = Holds.from_text(text)
    assert [h.repository for h in holds.holds] == ["a", "b"]
    assert holds.holding("a", "prod/x/y.yaml") == Hold("a", "prod/**", "r", "t")
    assert holds.holding("a", "dev/x.yaml") is None
    assert holds.holding("b", ".hidden/x.yaml") is not None
    assert Holds.from_text(holds.holds_text()) == holds
    assert holds.without_holds("a").holding("a", "prod/x.yaml") is None
    assert holds.without_holds("a", "dev/**") == holds
    for bad in ("[]", '{"path": "**"}', '{"repository": "a", "path": "**", "x": "1"}', "{"):
        with pytest.raises(ConfigError, match=rf"^{HOLDS_PATH}: line 1: expected a record"):
            Holds.from_text(bad)


# Survivors of the holds mutation run (docs/TESTING.md), each checked by applying it: every
# operation on one image's holds leaves the other images' holds, before and after it in order.

A, B, C = "r/a", "r/b", "r/c"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def three() -> Holds:
    return Holds(
        tuple(sorted([Hold(A, "**"), Hold(B, "**"), Hold(B, "prod/**"), Hold(C, "**")])),
        (RolledBack(A, D1), RolledBack(B, D1), RolledBack(C, D2)),
    )


def test_one_images_holds_are_only_its_own():
    assert three().of(B) == (Hold(B, "**"), Hold(B, "prod/**"))


def test_releasing_one_image_keeps_the_others_holds():
    assert three().without_holds(B).holds == (Hold(A, "**"), Hold(C, "**"))
    released = three().without_holds(B, "**").holds
    assert released == (Hold(A, "**"), Hold(B, "prod/**"), Hold(C, "**"))
    released = three().without_holds(B, "prod/**").holds
    assert released == (Hold(A, "**"), Hold(B, "**"), Hold(C, "**"))


def test_holding_or_replacing_one_images_holds_keeps_the_others():
    held = three().with_hold(Hold(B, "**", "again")).holds
    assert held == (Hold(A, "**"), Hold(B, "**", "again"), Hold(B, "prod/**"), Hold(C, "**"))
    replaced = three().with_holds_of(B, [Hold(B, "dev/**")]).holds
    assert replaced == (Hold(A, "**"), Hold(B, "dev/**"), Hold(C, "**"))


def test_a_rolled_back_digest_is_found_for_its_own_image_only():
    assert three().removed(B, D1) == RolledBack(B, D1)
    assert three().removed(B, D2) is None and three().removed(A, D2) is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            '{"repository": "r/a", "digest": "sha256:1"}',
            "expected a repository and a sha256 digest",
        ),
        (f'{{"repository": "", "digest": "{D1}"}}', "expected a repository and a sha256 digest"),
        (f'{{"repository": "r/a", "digest": "{D1}", "colour": "red"}}', "unknown field 'colour'"),
    ],
)
def test_a_bad_rolled_back_record_says_what_is_wrong(line: str, why: str):
    with pytest.raises(ConfigError) as raised:
        Holds.from_text(None, line + "\n")
    assert str(raised.value) == f"{ROLLED_BACK_PATH}: line 1: expected a record ({why})"


def test_a_hold_covers_its_own_image_only():
    holds = Holds((Hold(A, "**"),))
    assert holds.holding(A, "x.yaml") == Hold(A, "**")
    assert holds.holding(B, "x.yaml") is None and holds.holding("r/", "x.yaml") is None


def test_a_hold_needs_a_repository_and_a_path():
    for line in ('{"repository": "", "path": "**"}', '{"repository": "r/a", "path": ""}'):
        with pytest.raises(ConfigError, match="repository and path must not be empty"):
            Holds.from_text(line + "\n")


def test_records_are_written_one_json_line_each_as_they_read():
    holds = Holds((Hold(A, "**", "gel de code — ❄"),), (RolledBack(A, D1),))
    assert holds.holds_text() == (
        '{"repository":"r/a","path":"**","reason":"gel de code — ❄","since":""}\n'
    )
    assert holds.rolled_back_text().endswith('"since":""}\n')
    assert Holds.from_text(holds.holds_text(), holds.rolled_back_text()) == holds
