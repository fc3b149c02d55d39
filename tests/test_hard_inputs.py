"""Hard inputs: unusual but real config repos, settings and events, through the CLI.

A broken file is skipped with its reason and never blocks the good ones; a policy that cannot be
read stops the write; inputs git or the clock would misread are refused before they reach them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import WEB, bug_env, build, digest_of, git, promote_argv, promote_cli, revert, show
from .test_hostile_repos import CONTAINER

POD = CONTAINER  # a Pod naming WEB:1.0


def run(
    event: dict[str, Any], remote: Path | str, workdir: Path, *extra: str
) -> tuple[int, Any, str]:
    done = promote_cli(event, remote, workdir, *extra)
    result = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, result, done.stderr


def raw(remote: Path, path: str) -> str:
    """A file's exact text on main (`show` strips its ends)."""
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"main:{path}"],
        capture_output=True,
        check=True,
        text=True,
    )
    return done.stdout


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- 7. inputs that reach git or the clock ------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("--upload-pack=touch:{marker}", "must not begin with '-'"),
        ("-oProxyCommand=touch:{marker}", "must not begin with '-'"),
        ("ext::sh -c touch% {marker}", "remote-helper addresses are not supported"),
        ("fd::3", "remote-helper addresses are not supported"),
        ("http://u:p@[::1/x", "not a valid URL"),
        ("ftp://example.com/config.git", "unsupported URL scheme 'ftp'"),
    ],
)
def test_a_repo_url_git_would_misread_is_a_config_error(repo, expected, workdir, tmp_path):
    marker = tmp_path / "ran"
    argv = promote_argv("", workdir)
    argv[argv.index("--repo") : argv.index("--repo") + 2] = [f"--repo={repo.format(marker=marker)}"]
    done = subprocess.run(
        argv,
        input=json.dumps(build()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert expected in one_line(done.stderr)
    assert not marker.exists()


def test_an_uppercase_scheme_is_the_same_url(make_config_repo, git_daemon, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    url = git_daemon(remote)
    assert url.startswith("git://")
    code, result, stderr = run(build(), "GIT://" + url.removeprefix("git://"), workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr


def test_urls_that_differ_only_in_port_get_their_own_workspaces():
    from promoter.remote import Remote

    one = Remote("https://user:secret@git.example.com:8443/config.git")
    other = Remote("https://user:secret@git.example.com:9443/config.git")
    assert one.workspace_name() != other.workspace_name()
    assert one.display == "https://git.example.com:8443/config.git"


@pytest.mark.parametrize(
    "branch", ["a..b", "main.lock", "main/", "@{-1}", "ma\x01in", "a b", "x~1", "-main", "x^"]
)
def test_a_branch_git_refuses_is_a_config_error(branch, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    code, result, stderr = run(build(), remote, workdir, f"--branch={branch}")
    assert (code, result) == (2, None)
    assert "is not a valid branch name" in one_line(stderr)


def test_a_branch_with_folders_is_valid(make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    git("--git-dir", remote, "branch", "release/2026.12", "main")
    code, result, stderr = run(build(), remote, workdir, "--branch", "release/2026.12")
    assert (code, result["outcome"]) == (0, "promoted"), stderr


@pytest.mark.parametrize(
    "create_time", ["9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "1999-12-31T23:59:59Z"]
)
def test_a_create_time_no_build_can_have_is_invalid(create_time, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    code, result, stderr = run(build(create_time=create_time), remote, workdir)
    assert (code, result) == (2, None)
    assert f"createTime: {create_time[:19]}" in one_line(stderr)
    assert WEB + ":1.0" in show(remote, "pod.yaml")


def test_a_build_of_a_few_minutes_ago_is_promoted(make_config_repo, workdir):
    from datetime import UTC, datetime, timedelta

    remote = make_config_repo({"pod.yaml": POD}, source=None)
    recent = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    code, result, stderr = run(build(create_time=recent), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr


def test_a_revert_of_a_file_with_a_non_ascii_name_is_respected(make_config_repo, tmp_path):
    remote = make_config_repo({"apps/café.yaml": POD}, source=None)
    good = build(create_time="2026-03-02T09:00:00Z", digest=digest_of("good"))
    bad = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("bad"))
    run(good, remote, tmp_path / "a")
    _, result, _ = run(bad, remote, tmp_path / "a")
    revert(remote, result["commit"], tmp_path / "human")

    code, again, stderr = run(bad, remote, tmp_path / "b")
    assert (code, again["outcome"], again["commit"]) == (0, "ignored", None), stderr
    assert again["reason"].startswith("rolled back: build ")
    assert digest_of("good") in show(remote, "apps/café.yaml")


# --- 1. a file the YAML library fails on; a bug of ours ------------------------------------------

ESCAPES = {"escape": "\\U0011FFFF", "overflow": "\\UFFFFFFFF"}  # YAML escapes Python cannot hold
UNREADABLE = {
    "directive": "%YAML 1.3\n---\n" + POD,
    **{kind: POD.replace("name: x\n", f'name: "{text}"\n', 1) for kind, text in ESCAPES.items()},
}
POLICIES = {
    "directive": f"%YAML 1.3\n---\nimages:\n  - repository: {WEB}\n",
    **{
        kind: f'images:\n  - repository: {WEB}\n    paths: ["{text}"]\n'
        for kind, text in ESCAPES.items()
    },
}


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_a_manifest_the_parser_fails_on_is_skipped_and_the_others_promoted(
    kind, make_config_repo, workdir
):
    remote = make_config_repo({"a-good.yaml": POD, "b-bad.yaml": UNREADABLE[kind]}, source=None)
    code, result, stderr = run(build(digest=digest_of(kind)), remote, workdir)
    assert (code, result["outcome"], stderr) == (0, "promoted", "")
    assert [c["path"] for c in result["changes"]] == ["a-good.yaml"]
    assert "skipped b-bad.yaml: line " in result["reason"]
    assert digest_of(kind) in show(remote, "a-good.yaml")
    assert raw(remote, "b-bad.yaml") == UNREADABLE[kind]


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_a_policy_the_parser_fails_on_is_a_config_error(kind, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD, "promoter.yaml": POLICIES[kind]}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result) == (2, None)
    assert one_line(stderr).startswith("promoter: error: promoter.yaml: not readable YAML: ")
    assert WEB + ":1.0" in show(remote, "pod.yaml")


def test_a_reused_anchor_name_writes_nothing_to_stderr(make_config_repo, workdir):
    reused = POD.replace("  name: x\n", "  name: &n x\n  labels: {a: &n y, b: *n}\n", 1)
    policy = f"images:\n  - &r {{repository: {WEB}}}\n  - &r {{repository: {WEB}-api}}\n"
    remote = make_config_repo({"pod.yaml": reused, "promoter.yaml": policy}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result["outcome"], stderr) == (0, "promoted", "")


# --- 2. the policy never fails open ---------------------------------------------------------------

DEV_ONLY = f'images:\n  - repository: {WEB}\n    paths: ["dev/**"]\n'


def linked_repo(tmp_path: Path, target: str, files: dict[str, str]) -> Path:
    """A bare repo whose promoter.yaml is a symlink to `target`."""
    work = tmp_path / "linked"
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    (work / "promoter.yaml").symlink_to(target)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Seed", cwd=work)
    git("clone", "-q", "--bare", work, tmp_path / "linked.git")
    return tmp_path / "linked.git"


@pytest.mark.parametrize("target", ["ops/policy.yaml", "./ops/../ops/policy.yaml", "ops/link.yaml"])
def test_a_symlinked_policy_inside_the_repo_is_followed(target, tmp_path, workdir):
    files = {"dev/pod.yaml": POD, "prod/pod.yaml": POD, "ops/policy.yaml": DEV_ONLY}
    remote = linked_repo(tmp_path, target, files)
    if target == "ops/link.yaml":  # a link to a link
        work = tmp_path / "relink"
        git("clone", "-q", remote, work)
        (work / "ops/link.yaml").symlink_to("policy.yaml")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Link", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert [c["path"] for c in result["changes"]] == ["dev/pod.yaml"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "../outside.yaml",
            "promoter.yaml: a symlink to '../outside.yaml', outside the config repo",
        ),
        ("/etc/passwd", "promoter.yaml: a symlink to '/etc/passwd', outside the config repo"),
        ("ops/missing.yaml", "promoter.yaml: a symlink to ops/missing.yaml, which is not a file"),
        ("promoter.yaml", "promoter.yaml: more than 8 symlinks deep"),
    ],
)
def test_a_symlinked_policy_that_leads_nowhere_is_a_config_error(
    target, expected, tmp_path, workdir
):
    (tmp_path / "outside.yaml").write_text(DEV_ONLY)
    remote = linked_repo(tmp_path, target, {"dev/pod.yaml": POD, "prod/pod.yaml": POD})
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result) == (2, None)
    assert one_line(stderr).startswith(f"promoter: error: {expected}")
    assert WEB + ":1.0" in show(remote, "prod/pod.yaml")


def test_a_policy_named_explicitly_must_exist(make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    code, result, stderr = run(build(), remote, workdir, "--policy", "ops/policy.yaml")
    assert (code, result) == (2, None)
    assert one_line(stderr).startswith("promoter: error: ops/policy.yaml: not found on branch")
    assert WEB + ":1.0" in show(remote, "pod.yaml")


def test_a_missing_policy_named_by_the_deployment_keeps_the_message(
    make_config_repo, function_server
):
    from .test_function import post_binary

    remote = make_config_repo({"pod.yaml": POD}, source=None)
    server = function_server(remote, PROMOTER_POLICY="ops/policy.yaml")
    assert post_binary(server.url, build()).status_code == 503
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("ERROR", "retry")
    assert "ops/policy.yaml: not found on branch 'main'" in line["message"]
    assert WEB + ":1.0" in show(remote, "pod.yaml")


@pytest.mark.parametrize("named", ["./promoter.yaml", "promoter.yaml/", ".//promoter.yaml"])
def test_spellings_of_the_policy_path_name_the_same_file(named, make_config_repo, workdir):
    files = {"dev/pod.yaml": POD, "prod/pod.yaml": POD, "promoter.yaml": DEV_ONLY}
    remote = make_config_repo(files, source=None)
    code, result, stderr = run(build(), remote, workdir, "--policy", named)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert [c["path"] for c in result["changes"]] == ["dev/pod.yaml"]


def test_an_images_key_with_every_entry_commented_out_is_a_config_error(make_config_repo, workdir):
    policy = f"images:\n  # - repository: {WEB}\n  #   paths: [dev/**]\n"
    remote = make_config_repo({"pod.yaml": POD, "promoter.yaml": policy}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result) == (2, None)
    assert "images: has no entries (to promote every image, remove the key)" in one_line(stderr)


# --- 1. a bug of ours: traceback at ERROR, bounded redelivery ----------------------------------


def bug() -> Any:
    raise RecursionError("maximum recursion depth exceeded")  # what no handler classifies


@pytest.mark.parametrize(
    ("age", "acked", "outcome"),
    [(None, False, "retry"), (60.0, False, "retry"), (3601.0, True, "dropped")],
)
def test_a_bug_is_logged_with_its_traceback_and_retried_for_an_hour_only(
    age, acked, outcome, capsys
):
    import time

    from promoter.handling import handle

    published = None if age is None else time.time() - age
    assert handle(bug, lambda: pytest.fail("not reached"), published=published) is acked
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert (line["severity"], line["outcome"]) == ("ERROR", outcome)
    assert (
        line["message"]
        == f"{outcome}: internal error (RecursionError): maximum recursion depth exceeded"
    )
    assert "in bug\n" in line["traceback"] and line["traceback"].startswith("Traceback")


def test_the_function_answers_a_bug_with_one_json_line(make_config_repo, function_server, tmp_path):
    from .test_function import post_binary

    remote = make_config_repo({"pod.yaml": POD}, source=None)
    bug = tmp_path / "bug"
    server = function_server(remote, **bug_env(bug))
    assert post_binary(server.url, build()).status_code == 200
    bug.touch()  # from now on, opening the workspace fails as a bug of ours would
    response = post_binary(server.url, build(digest=digest_of("again")))
    lines = server.log.read_text().splitlines()
    assert all(line.startswith("{") for line in lines), lines
    last = json.loads(lines[-1])
    # The message's publishTime is months old: past the hour, it is acknowledged, not looped.
    assert (response.status_code, last["severity"], last["outcome"]) == (200, "ERROR", "dropped")
    assert last["message"].startswith("dropped: internal error (RuntimeError): a bug of ours")
    assert "Traceback" in last["traceback"]


# --- 3. every manifest kustomize and Argo CD read -----------------------------------------------

KUSTOMIZATION = f"resources: [pod.yaml]\nimages:\n  - name: {WEB}\n    newTag: v0\n"
JSON_POD = (
    '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "x"},\n'
    f'  "spec": {{"containers": [{{"name": "x", "image": "{WEB}:1.0"}}]}}\n}}\n'
)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("overlays/dev/Kustomization", KUSTOMIZATION),
        ("Kustomization", KUSTOMIZATION),
        ("apps/pod.json", JSON_POD),
        ("apps/POD.JSON", JSON_POD),
        ("apps/pod.YAML", POD),
        ("apps/pod.Yml", POD),
    ],
)
def test_every_manifest_name_kustomize_and_argo_cd_read_is_searched(
    path, text, make_config_repo, workdir
):
    remote = make_config_repo({path: text, "notes/pod.txt": POD}, source=None)
    digest = digest_of(path)
    code, result, stderr = run(build(digest=digest), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert [c["path"] for c in result["changes"]] == [path]
    after = raw(remote, path)
    if path.lower().endswith(".json"):
        assert after == text.replace(":1.0", f":4be1a9c@{digest}")
        assert json.loads(after)["spec"]["containers"][0]["image"].endswith(digest)
    assert digest in after
    assert raw(remote, "notes/pod.txt") == POD  # not a manifest: never touched


def test_a_json_manifest_added_later_is_found_by_a_warm_workspace(make_config_repo, tmp_path):
    remote = make_config_repo({"pod.yaml": POD}, source=None)
    run(build(create_time="2026-03-02T09:00:00Z"), remote, tmp_path / "warm")
    work = tmp_path / "human"
    git("clone", "-q", remote, work)
    (work / "pod.json").write_text(JSON_POD)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "JSON too", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    code, result, stderr = run(build(create_time="2026-03-02T09:05:00Z"), remote, tmp_path / "warm")
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert [c["path"] for c in result["changes"]] == ["pod.json", "pod.yaml"]


# --- 4. tabs, 6. empty kustomize fields ---------------------------------------------------------

TABBED = {
    "after the colon": POD.replace("image: ", "image:\t"),
    "before a comment": POD.replace(":1.0\n", ":1.0\t# current\n"),
    "trailing": POD.replace(":1.0\n", ":1.0\t\n"),
}


@pytest.mark.parametrize("where", sorted(TABBED))
def test_valid_tabs_are_kept_and_the_file_promoted(where, make_config_repo, workdir):
    remote = make_config_repo({"pod.yaml": TABBED[where]}, source=None)
    digest = digest_of(where)
    code, result, stderr = run(build(digest=digest), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert raw(remote, "pod.yaml") == TABBED[where].replace(":1.0", f":4be1a9c@{digest}")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("    newTag:\n", "    newTag: 4be1a9c\n    digest: {digest}\n"),
        ("    digest:\n", "    digest: {digest}\n"),
        (
            "    newTag:   # filled in\n    digest:\n",
            "    newTag: 4be1a9c   # filled in\n    digest: {digest}\n",
        ),
        ("    newTag: ''\n", "    newTag: '4be1a9c'\n    digest: {digest}\n"),
    ],
)
def test_empty_kustomize_fields_are_filled(entry, expected, make_config_repo, workdir):
    head = f"resources: [pod.yaml]\nimages:\n  - name: {WEB}\n"
    remote = make_config_repo({"kustomization.yaml": head + entry}, source=None)
    digest = digest_of(entry)
    code, result, stderr = run(build(digest=digest), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert raw(remote, "kustomization.yaml") == head + expected.format(digest=digest)


# --- 5. answers that say what happened ------------------------------------------------------------


def test_when_the_only_file_naming_the_image_is_skipped_the_reason_says_so(
    make_config_repo, function_server
):
    from .test_function import post_binary

    bad = POD.replace("kind: Pod\n", "kind: Pod\nx: [unclosed\n")
    remote = make_config_repo({"apps/pod.yaml": bad}, source=None)
    server = function_server(remote)
    assert post_binary(server.url, build()).status_code == 200
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("WARNING", "ignored")
    assert line["message"].startswith(
        f"ignored: no readable manifest references {WEB}; skipped apps/pod.yaml: line "
    )


def test_a_file_too_large_to_read_is_named_in_the_reason(make_config_repo, workdir):
    huge = POD + "# pad\n" * 800_000  # 4.6 MiB
    remote = make_config_repo({"apps/pod.yaml": huge}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result["outcome"]) == (0, "ignored"), stderr
    assert result["reason"] == (
        f"no readable manifest references {WEB}; skipped apps/pod.yaml: larger than 4 MiB"
    )


@pytest.mark.parametrize(
    ("paths", "hint"),
    [
        ('["overlays/prod/**"]', ""),
        ('["overlays/dev"]', "; 'overlays/dev' is a folder: its files are 'overlays/dev/**'"),
    ],
)
def test_when_the_policy_leaves_out_every_file_the_reason_says_so(
    paths, hint, make_config_repo, function_server
):
    from .test_function import post_binary

    policy = f"images:\n  - repository: {WEB}\n    paths: {paths}\n"
    files = {
        "overlays/dev/pod.yaml": POD,
        "overlays/staging/pod.yaml": POD,
        "promoter.yaml": policy,
    }
    remote = make_config_repo(files, source=None)
    server = function_server(remote)
    assert post_binary(server.url, build()).status_code == 200
    [line] = server.log_lines()
    assert (line["severity"], line["outcome"]) == ("WARNING", "ignored")
    pattern = paths.strip('[]"')
    assert line["message"] == (
        f"ignored: promoter.yaml's paths ({pattern}) leave out every file naming {WEB}:"
        f" overlays/dev/pod.yaml, overlays/staging/pod.yaml{hint}"
    )


def test_braces_in_policy_paths_match_each_choice(make_config_repo, workdir):
    policy = f'images:\n  - repository: {WEB}\n    paths: ["overlays/{{dev,staging}}/**"]\n'
    files = {f"overlays/{env}/pod.yaml": POD for env in ("dev", "staging", "prod")}
    remote = make_config_repo({**files, "promoter.yaml": policy}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert [c["path"] for c in result["changes"]] == [
        "overlays/dev/pod.yaml",
        "overlays/staging/pod.yaml",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("./overlays/dev/**", "paths start at the repo's root, without './'"),
        ("overlays/dev/", "a folder's files are 'overlays/dev/**'"),
        ("overlays//dev/**", "a path has no empty or '.' parts"),
    ],
)
def test_policy_paths_that_can_never_match_are_config_errors(
    pattern, expected, make_config_repo, workdir
):
    policy = f'images:\n  - repository: {WEB}\n    paths: ["{pattern}"]\n'
    remote = make_config_repo({"overlays/dev/pod.yaml": POD, "promoter.yaml": policy}, source=None)
    code, result, stderr = run(build(), remote, workdir)
    assert (code, result) == (2, None)
    assert one_line(stderr) == (
        f"promoter: error: promoter.yaml: images[0].paths: {pattern!r} can never match a file:"
        f" {expected}" + (" (write 'overlays/dev/**')" if pattern.startswith("./") else "")
    )
