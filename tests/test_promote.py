"""Integration: real bare repos, the real CLI, real git transports on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from promoter.events import from_envelope
from promoter.service import promote
from promoter.settings import Settings

from .conftest import (
    WEB,
    WORKER,
    build,
    count_commits,
    digest_of,
    git,
    promote_argv,
    promote_cli,
    revert,
    run_cli,
    show,
    tip,
)


def cli_promote(
    event: dict[str, Any], repo: Path | str, workdir: Path, *extra: str
) -> tuple[int, Any, str]:
    done = run_cli(
        "promote",
        "--event",
        "-",
        "--repo",
        repo,
        "--workdir",
        workdir,
        *extra,
        stdin=json.dumps(event),
    )
    result = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, result, done.stderr


def test_promotes_every_reference_of_the_built_repository(make_config_repo, workdir):
    remote = make_config_repo()
    digest = digest_of("web-1")
    code, result, stderr = cli_promote(build(digest=digest), remote, workdir)

    assert (code, stderr) == (0, "")
    assert result["outcome"] == "promoted"
    assert result["commit"] == tip(remote)
    assert sorted(c["path"] for c in result["changes"]) == [
        "clusters/dev/deployment.yaml",
        "clusters/dev/kustomization.yaml",
        "clusters/prod/deployment.yaml",
    ]
    deployment = show(remote, "clusters/dev/deployment.yaml")
    assert f"image: {WEB}:4be1a9c@{digest}   # pinned by the promoter" in deployment
    assert f"'{WORKER}:1.4.0'" in deployment  # a similar name is another repository
    assert f"digest: {digest}" in show(remote, "clusters/dev/kustomization.yaml")
    assert "web-worker:1.4.0" in show(remote, "apps/worker/job.yaml")
    assert git("--git-dir", remote, "diff", "--stat", "main~1", "main", "--", "README.md") == ""


def test_commit_message_links_the_build(make_config_repo, workdir):
    remote = make_config_repo()
    event = build(build_id="5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f", digest=digest_of("msg"))
    cli_promote(event, remote, workdir)

    subject = git("--git-dir", remote, "log", "-1", "--format=%s")
    assert subject == f"Promote web@{digest_of('msg')[7:19]} (build 5d1c0e7a)"
    trailers = git("--git-dir", remote, "log", "-1", "--format=%(trailers:only,unfold)")
    assert f"Build-Id: {event['id']}" in trailers
    assert f"Image: {WEB}@{digest_of('msg')}" in trailers
    assert "Source-Commit: 4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2" in trailers
    assert f"Build-Log: {event['logUrl']}" in trailers
    assert "[skip ci]" in git("--git-dir", remote, "log", "-1", "--format=%B")


def test_redelivery_changes_nothing(make_config_repo, workdir):
    remote = make_config_repo()
    event = build()
    cli_promote(event, remote, workdir)
    commits = count_commits(remote)

    code, result, _ = cli_promote(event, remote, workdir)

    assert (code, result["outcome"], result["commit"]) == (0, "unchanged", None)
    assert count_commits(remote) == commits


def test_older_build_after_newer_changes_nothing(make_config_repo, workdir):
    remote = make_config_repo()
    newer = build(create_time="2026-03-02T09:14:07.118244918Z", digest=digest_of("new"))
    older = build(create_time="2026-03-02T09:14:07.118244917Z", digest=digest_of("old"))
    cli_promote(newer, remote, workdir)

    code, result, _ = cli_promote(older, remote, workdir)

    assert (code, result["outcome"]) == (0, "unchanged")
    assert digest_of("new") in show(remote, "clusters/prod/deployment.yaml")
    assert digest_of("old") not in show(remote, "clusters/prod/deployment.yaml")


def test_ties_on_create_time_are_broken_by_build_id(make_config_repo, workdir):
    remote = make_config_repo()
    same = "2026-03-02T09:14:07Z"
    cli_promote(build(build_id="bbbb", create_time=same, digest=digest_of("b")), remote, workdir)
    _, result, _ = cli_promote(
        build(build_id="aaaa", create_time=same, digest=digest_of("a")), remote, workdir
    )
    assert result["outcome"] == "unchanged"
    _, result, _ = cli_promote(
        build(build_id="cccc", create_time=same, digest=digest_of("c")), remote, workdir
    )
    assert result["outcome"] == "promoted"


@pytest.mark.parametrize("status", ["FAILURE", "QUEUED", "WORKING", "CANCELLED", "TIMEOUT"])
def test_unsuccessful_builds_are_ignored(make_config_repo, workdir, status):
    remote = make_config_repo()
    code, result, _ = cli_promote(build(status=status), remote, workdir)
    assert (code, result["outcome"], result["commit"], count_commits(remote)) == (
        0,
        "ignored",
        None,
        1,
    )


def test_invalid_event_exits_2_with_one_line_and_no_commit(make_config_repo, workdir):
    remote = make_config_repo()
    event = build(digest="sha256:" + "A" * 64)
    code, result, stderr = cli_promote(event, remote, workdir)
    assert (code, result) == (2, None)
    assert len(stderr.strip().splitlines()) == 1 and "digest" in stderr
    assert "Traceback" not in stderr
    assert count_commits(remote) == 1


def test_unreachable_remote_exits_75(workdir, tmp_path):
    code, result, stderr = cli_promote(build(), "git://127.0.0.1:9/nowhere.git", workdir)
    assert (code, result) == (75, None)
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_missing_branch_is_a_config_error(make_config_repo, workdir):
    code, _, stderr = cli_promote(build(), make_config_repo(), workdir, "--branch", "release")
    assert code == 2 and "release" in stderr


def test_dry_run_commits_nothing(make_config_repo, workdir):
    remote = make_config_repo()
    code, result, _ = cli_promote(build(), remote, workdir, "--dry-run")
    assert (code, result["outcome"], result["commit"]) == (0, "promoted", None)
    assert result["changes"] and count_commits(remote) == 1


POLICY = f"""images:
  - repository: {WEB}
    paths: ["clusters/dev/**"]
    branches: ["main", "release/*"]
"""


def test_policy_limits_paths_and_branches(make_config_repo, workdir):
    remote = make_config_repo({"promoter.yaml": POLICY})

    _, result, _ = cli_promote(build(branch="feature/x"), remote, workdir)
    assert result["outcome"] == "ignored"
    _, result, _ = cli_promote(build(branch="release/2", digest=digest_of("r2")), remote, workdir)
    assert result["outcome"] == "promoted"
    assert {c["path"] for c in result["changes"]} == {
        "clusters/dev/deployment.yaml",
        "clusters/dev/kustomization.yaml",
    }
    assert digest_of("r2") not in show(remote, "clusters/prod/deployment.yaml")


def test_policy_file_can_live_elsewhere(make_config_repo, workdir):
    remote = make_config_repo({"ops/policy.yaml": POLICY})
    _, result, _ = cli_promote(build(), remote, workdir, "--policy", "ops/policy.yaml")
    assert result["outcome"] == "promoted"
    assert {c["path"] for c in result["changes"]} == {
        "clusters/dev/deployment.yaml",
        "clusters/dev/kustomization.yaml",
    }


def test_bad_policy_names_the_key(make_config_repo, workdir):
    remote = make_config_repo({"promoter.yaml": f"images:\n  - repository: {WEB}\n    path: [x]\n"})
    code, _, stderr = cli_promote(build(), remote, workdir)
    assert code == 2 and "'path'" in stderr and "promoter.yaml" in stderr


def test_unrelated_image_is_ignored(make_config_repo, workdir):
    remote = make_config_repo()
    _, result, _ = cli_promote(
        build(image="europe-west1-docker.pkg.dev/demo-shop/apps/other"), remote, workdir
    )
    assert result["outcome"] == "ignored"


def test_two_images_in_one_build_make_one_commit(make_config_repo, workdir):
    remote = make_config_repo()
    event = build(images=[(WEB, "v2", digest_of("w2")), (WORKER, "v2", digest_of("k2"))])
    _, result, _ = cli_promote(event, remote, workdir)
    assert result["outcome"] == "promoted" and count_commits(remote) == 2
    assert digest_of("k2") in show(remote, "apps/worker/job.yaml")
    assert digest_of("w2") in show(remote, "clusters/dev/deployment.yaml")


def test_ledger_records_the_build_without_touching_pod_templates(make_config_repo, workdir):
    remote = make_config_repo()
    event = build()
    cli_promote(event, remote, workdir)
    ledger = [json.loads(line) for line in show(remote, ".promoter/ledger.jsonl").splitlines()]
    assert {(r["path"], r["build"]) for r in ledger} == {
        ("clusters/dev/deployment.yaml", event["id"]),
        ("clusters/dev/kustomization.yaml", event["id"]),
        ("clusters/prod/deployment.yaml", event["id"]),
    }


def test_works_from_a_shallow_workspace_after_many_commits(make_config_repo, workdir):
    remote = make_config_repo()
    for minute in range(10, 30):
        cli_promote(build(create_time=f"2026-03-02T09:{minute}:00Z"), remote, workdir)
    assert count_commits(remote) == 21
    assert git("--git-dir", remote, "rev-list", "--merges", "main") == ""


def settings_for(remote: Path | str, workdir: Path) -> Settings:
    return Settings.build(repo=str(remote), workdir=str(workdir), environ={})


def test_concurrent_workspaces_lose_no_update(make_config_repo, tmp_path):
    remote = make_config_repo()
    events = [
        build(
            image=WEB if n % 2 else WORKER,
            create_time=f"2026-03-02T09:{n:02d}:00Z",
            digest=digest_of(n),
        )
        for n in range(10, 20)
    ]
    results: list[Any] = []

    def run(n: int) -> None:
        # Five separate workspaces (as five instances) and two threads sharing each.
        settings = settings_for(remote, tmp_path / f"instance-{n % 5}")
        results.append(promote(from_envelope(events[n]), settings))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == len(events), "a thread ended without a result"
    assert all(r.outcome in ("promoted", "unchanged") for r in results)
    assert git("--git-dir", remote, "rev-list", "--merges", "main") == ""
    assert digest_of(19) in show(remote, "clusters/prod/deployment.yaml")
    assert digest_of(18) in show(remote, "apps/worker/job.yaml")
    # Every promoted build is one commit; none is committed twice.
    build_ids = git(
        "--git-dir", remote, "log", "--format=%(trailers:key=Build-Id,valueonly)", "main"
    ).split()
    assert len(build_ids) == len(set(build_ids)) == sum(r.outcome == "promoted" for r in results)


def test_promotes_over_git_daemon(make_config_repo, git_daemon, workdir):
    remote = make_config_repo()
    url = git_daemon(remote)
    code, result, stderr = cli_promote(build(digest=digest_of("daemon")), url, workdir)
    assert (code, stderr, result["outcome"]) == (0, "", "promoted")
    assert digest_of("daemon") in show(remote, "clusters/dev/kustomization.yaml")
    code, result, _ = cli_promote(build(digest=digest_of("daemon")), url, workdir)
    assert result["outcome"] == "unchanged"  # a new build of the same digest: already there


def test_workspace_recovers_from_stale_git_locks(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    locks = [workspace / "shallow.lock", workspace / "packed-refs.lock"]
    for lock in locks:
        lock.write_text("")
    human = tmp_path / "human"  # the remote moves: the next event must fetch into the workspace
    git("clone", "-q", remote, human)
    git("commit", "-q", "--allow-empty", "-m", "Someone else", cwd=human)
    git("push", "-q", "origin", "HEAD:main", cwd=human)
    code, result, _ = cli_promote(build(create_time="2026-03-02T09:01:00Z"), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted")
    assert not any(lock.exists() for lock in locks)


def test_workspace_recovers_from_a_wiped_git_dir(make_config_repo, workdir):
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    for workspace in workdir.iterdir():
        if workspace.is_dir():
            (workspace / "HEAD").unlink()
    code, result, _ = cli_promote(build(create_time="2026-03-02T09:01:00Z"), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted")


def test_cli_processes_sharing_one_workdir_take_turns(make_config_repo, workdir):
    remote = make_config_repo()
    bodies = [
        build(create_time=f"2026-03-02T09:{n:02d}:00Z", digest=digest_of(("shared", n)))
        for n in range(4)
    ]
    processes = [
        subprocess.Popen(
            promote_argv(str(remote), str(workdir)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in bodies
    ]
    outputs = [
        p.communicate(json.dumps(b), timeout=120) for p, b in zip(processes, bodies, strict=True)
    ]

    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert digest_of(("shared", 3)) in show(remote, "clusters/prod/deployment.yaml")
    assert git("--git-dir", remote, "rev-list", "--merges", "main") == ""
    assert len(list(workdir.glob("*.lock"))) == 1


def push_change(remote: Path, tmp_path: Path, files: dict[str, str | None]) -> None:
    """Someone else commits to the config repo: write (or, for None, delete) `files`."""
    clone = tmp_path / f"human-{count_commits(remote)}"
    git("clone", "-q", remote, clone)
    for path, text in files.items():
        if text is None:
            git("rm", "-q", path, cwd=clone)
        else:
            (clone / path).parent.mkdir(parents=True, exist_ok=True)
            (clone / path).write_text(text)
    git("add", "-A", cwd=clone)
    git("commit", "-q", "-m", "by hand", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)


def test_files_added_or_removed_between_events_are_seen(make_config_repo, workdir, tmp_path):
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    new_app = show(remote, "clusters/prod/deployment.yaml").replace("name: web", "name: web2")
    push_change(
        remote,
        tmp_path,
        {"clusters/qa/deployment.yaml": new_app, "clusters/prod/deployment.yaml": None},
    )

    _, result, _ = cli_promote(
        build(create_time="2026-03-02T09:01:00Z", digest=digest_of("qa")), remote, workdir
    )

    assert {c["path"] for c in result["changes"]} == {
        "clusters/qa/deployment.yaml",
        "clusters/dev/deployment.yaml",
        "clusters/dev/kustomization.yaml",
    }
    assert digest_of("qa") in show(remote, "clusters/qa/deployment.yaml")


def test_a_reverted_promotion_stays_reverted_when_the_build_is_delivered_again(
    make_config_repo, workdir, tmp_path
):
    remote = make_config_repo()
    # A fresh workspace on a repo with history, as a new instance would start.
    first = build(create_time="2026-03-02T09:00:00Z", digest=digest_of("good"))
    bad = build(create_time="2026-03-02T09:05:00Z", digest=digest_of("bad"))
    cli_promote(first, remote, tmp_path / "instance-a")
    _, result, _ = cli_promote(bad, remote, tmp_path / "instance-a")
    revert(remote, result["commit"], tmp_path / "human")

    for instance in ("instance-a", "instance-b"):  # warm, and new with a depth-1 start
        code, again, _ = cli_promote(bad, remote, tmp_path / instance)
        assert (code, again["outcome"], again["commit"]) == (0, "ignored", None)
        assert again["reason"].startswith("rolled back: build ")
    assert digest_of("good") in show(remote, "clusters/prod/deployment.yaml")

    newer = build(create_time="2026-03-02T09:10:00Z", digest=digest_of("fixed"))
    _, result, _ = cli_promote(newer, remote, tmp_path / "instance-b")
    assert result["outcome"] == "promoted"
    assert digest_of("fixed") in show(remote, "clusters/prod/deployment.yaml")


def test_a_workspace_init_killed_halfway_is_cleared(make_config_repo, workdir):
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    unfinished = workspace.with_name(workspace.name + ".new-99999")
    (unfinished / "objects").mkdir(parents=True)
    code, result, _ = cli_promote(build(create_time="2026-03-02T09:01:00Z"), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted")
    assert not unfinished.exists()


def test_a_remote_left_locked_is_named_and_not_retried_as_a_race(make_config_repo, workdir):
    remote = make_config_repo()
    lock = remote / "refs" / "heads" / "main.lock"
    lock.write_text("")  # what a git server killed mid-push leaves behind
    code, result, stderr = cli_promote(build(digest=digest_of("locked")), remote, workdir)
    assert (code, result) == (75, None)
    assert "the remote is locked: refs/heads/main.lock exists" in stderr
    assert count_commits(remote) == 1

    lock.unlink()  # the server's operator removes it: the redelivery promotes
    code, result, _ = cli_promote(build(digest=digest_of("locked")), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted")


def test_a_push_that_fails_otherwise_on_the_remote_is_not_called_locked(make_config_repo, workdir):
    """Only a ref's `.lock` file that exists is a locked remote; the remote failing to create
    something else (a full disk, a hook's complaint) is said as git said it."""
    remote = make_config_repo()
    hook = remote / "hooks" / "pre-receive"
    said = "error: unable to create directory objects/ab: File exists"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{said}' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, result, stderr = cli_promote(build(digest=digest_of("hooked")), remote, workdir)
    assert (code, result) == (75, None)
    assert "git push to" in stderr and "failed" in stderr and "locked" not in stderr, stderr
    assert count_commits(remote) == 1


def test_an_image_in_1600_manifests_is_one_commit_with_a_bounded_message(make_config_repo, workdir):
    pod = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a{n}\n      image: {web}\n"
    # Distinct files: the first fetch then brings a pack (git unpacks fetches under 100 objects).
    files = {f"apps/app-{n:04}/pod.yaml": pod.format(n=n, web=WEB) for n in range(1600)}
    remote = make_config_repo(files, source=None)
    code, result, stderr = cli_promote(build(), remote, workdir)
    assert (code, result["outcome"], len(result["changes"])) == (0, "promoted", 1600), stderr
    assert count_commits(remote) == 2
    message = git("--git-dir", remote, "log", "-1", "--format=%B")
    assert "- and 1400 more references (1400 more files)" in message
    assert len(message) < 30_000
    changed = git("--git-dir", remote, "diff", "--name-only", "main^", "main").splitlines()
    assert len(changed) == 1601  # every manifest and the ledger


def test_a_workdir_whose_parents_do_not_exist_is_made(make_config_repo, tmp_path):
    remote = make_config_repo()
    code, result, stderr = cli_promote(build(), remote, tmp_path / "a" / "b" / "work")
    assert (code, result["outcome"]) == (0, "promoted"), stderr


def test_a_manifest_with_a_colon_in_its_path_is_found(make_config_repo, workdir):
    pod = f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: x\n      image: {WEB}:1\n"
    remote = make_config_repo({"apps/web:prod/pod.yaml": pod}, source=None)
    code, result, stderr = cli_promote(build(), remote, workdir)
    assert (code, [c["path"] for c in result["changes"]]) == (0, ["apps/web:prod/pod.yaml"]), stderr


def test_the_workspace_is_kept_from_one_event_to_the_next(make_config_repo, workdir):
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    (workspace / "kept").touch()
    code, result, _ = cli_promote(build(create_time="2026-03-02T09:05:00Z"), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted")
    assert (workspace / "kept").exists()


def test_a_rewritten_remote_history_is_searched_again(make_config_repo, workdir, tmp_path):
    # Someone force-pushes a new history; the workspace's old tip is then pruned, so what
    # changed since it cannot be listed: every file must be searched again.
    remote = make_config_repo()
    cli_promote(build(create_time="2026-03-02T09:00:00Z"), remote, workdir)
    human = tmp_path / "human"
    git("clone", "-q", remote, human)
    pod = f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: x\n      image: {WEB}:1\n"
    (human / "apps/new.yaml").write_text(pod)
    git("add", "-A", cwd=human)
    git("commit", "-q", "--amend", "-m", "Rewritten", cwd=human)
    git("push", "-q", "--force", "origin", "HEAD:main", cwd=human)
    cli_promote(build(create_time="2026-03-02T09:01:00Z", image=WORKER), remote, workdir)
    [workspace] = [p for p in workdir.iterdir() if p.is_dir()]
    git("--git-dir", workspace, "reflog", "expire", "--expire=now", "--all")
    git("--git-dir", workspace, "gc", "-q", "--prune=now")
    code, result, stderr = cli_promote(build(create_time="2026-03-02T09:05:00Z"), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert "apps/new.yaml" in [c["path"] for c in result["changes"]]


OTHER = "europe-west1-docker.pkg.dev/demo-shop/apps/other"


def _dated(when: str) -> dict[str, str]:
    person = {"GIT_AUTHOR_NAME": "h", "GIT_AUTHOR_EMAIL": "h@x", "GIT_COMMITTER_NAME": "h"}
    return {**os.environ, **person, "GIT_COMMITTER_EMAIL": "h@x", "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when}  # fmt: skip


def test_a_rollback_older_than_the_workspaces_known_history_is_still_found(
    make_config_repo, tmp_path
):
    """A workspace that recorded its history as complete since some time must still deepen for
    a build created before that time: its revert lies further back (dates are commit dates)."""
    other = (
        f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: o\n      image: {OTHER}:1\n"
    )
    remote = make_config_repo({"apps/other/pod.yaml": other})
    bad = build(create_time="2026-03-02T09:00:00Z", digest=digest_of("old-bad"))
    first = promote_cli(bad, remote, tmp_path / "a", env=_dated("2026-03-02T09:05:00"))
    assert first.returncode == 0, first.stderr
    promoted = json.loads(first.stdout)["commit"]
    clone = tmp_path / "human"
    git("clone", "-q", remote, clone)
    for argv, when in [
        (["revert", "--no-edit", promoted], "2026-03-03T10:00:00"),
        (["commit", "-q", "--allow-empty", "-m", "Later work"], "2026-03-10T12:00:00"),
    ]:
        subprocess.run(["git", *argv], cwd=clone, check=True, capture_output=True, env=_dated(when))
    git("push", "-q", "origin", "HEAD:main", cwd=clone)

    # A new instance promotes a recent build of another image first: it starts from one commit
    # and records its history as complete since that build.
    recent = build(create_time="2026-03-11T00:00:00Z", image=OTHER, digest=digest_of("recent"))
    fresh = tmp_path / "b"
    done = promote_cli(recent, remote, fresh)
    assert json.loads(done.stdout or "{}").get("outcome") == "promoted", done.stderr
    [workspace] = [p for p in fresh.iterdir() if p.is_dir()]
    assert (workspace / "promoter-history.json").exists() and (workspace / "shallow").exists()

    again = promote_cli(bad, remote, fresh)
    result = json.loads(again.stdout)
    assert (result["outcome"], result["commit"]) == ("ignored", None), again.stderr
    assert result["reason"].startswith("rolled back: build ")
    assert digest_of("old-bad") not in show(remote, "clusters/prod/deployment.yaml")


def test_a_branch_moved_during_the_push_is_a_race_retried_from_the_new_tip(
    make_config_repo, workdir
):
    """Another push lands between our push's check and its ref update (a pre-receive hook moves
    the branch once): git answers "cannot lock ref ... is at X but expected Y" and "failed to
    update ref"; the promoter fetches the new tip and lands on top of it."""
    remote = make_config_repo()
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        '[ -e "$GIT_DIR/moved" ] && exit 0\ntouch "$GIT_DIR/moved"\n'
        "env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES"
        " sh -c 't=$(git rev-parse refs/heads/main^{tree});"
        " c=$(echo race | git commit-tree $t -p refs/heads/main);"
        " git update-ref refs/heads/main $c'\n"
    )
    hook.chmod(0o755)
    code, result, stderr = cli_promote(build(digest=digest_of("raced")), remote, workdir)
    assert (code, result["outcome"]) == (0, "promoted"), stderr
    assert (remote / "moved").exists()  # the race happened
    assert git("--git-dir", remote, "log", "-1", "--format=%s", "main^") == "race"
    assert count_commits(remote) == 3  # the seed, the racing commit, ours on top
