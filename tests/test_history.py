"""`promoter history`: the deploys the config repo's commits record, newest first."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from promoter.history import Commit, deploys_of, history

from .conftest import WEB, build, digest_of, git, promote_cli, run_cli

KEYS = ["commit", "time", "kind", "image", "digest", "build_id", "source_commit", "paths"]
OTHER = "europe-west1-docker.pkg.dev/demo-shop/apps/other"
PERSON = {
    "GIT_AUTHOR_NAME": "Ana",
    "GIT_AUTHOR_EMAIL": "ana@example.com",
    "GIT_COMMITTER_NAME": "Ana",
    "GIT_COMMITTER_EMAIL": "ana@example.com",
}


def history_cli(remote: Path, workdir: Path, *args: str) -> list[dict[str, Any]]:
    done = run_cli("history", "--repo", remote, "--workdir", workdir, "--json", *args)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def person(clone: Path, *argv: str) -> None:
    subprocess.run(
        ["git", *argv], cwd=clone, check=True, capture_output=True, env={**os.environ, **PERSON}
    )


def promoted(remote: Path, workdir: Path, n: int, **fields: Any) -> str:
    event = build(
        create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), build_id=f"b{n}", **fields
    )
    done = promote_cli(event, remote, workdir)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["commit"])


def test_promotions_newest_first_with_every_field(make_config_repo, tmp_path):
    remote = make_config_repo()
    commits = [promoted(remote, tmp_path / "w", n) for n in range(3)]
    found = history_cli(remote, tmp_path / "reader")
    assert [d["commit"] for d in found] == commits[::-1]
    newest = found[0]
    assert list(newest) == KEYS
    assert newest["kind"] == "promotion"
    assert (newest["image"], newest["digest"]) == (WEB, digest_of(2))
    assert newest["build_id"] == "b2" and newest["source_commit"].startswith("4be1a9c")
    assert newest["time"].endswith("Z")
    assert ".promoter/ledger.jsonl" not in newest["paths"]
    assert "clusters/prod/deployment.yaml" in newest["paths"]


def test_a_persons_revert_is_a_rollback_of_what_it_undid(make_config_repo, tmp_path):
    remote = make_config_repo()
    promoted(remote, tmp_path / "w", 0)
    bad = promoted(remote, tmp_path / "w", 1)
    clone = tmp_path / "clone"
    git("clone", "-q", remote, clone)
    person(clone, "revert", "--no-edit", bad)
    person(clone, "push", "-q", "origin", "HEAD:main")
    rollback, undone, first = history_cli(remote, tmp_path / "reader")
    assert rollback["kind"] == "rollback"
    assert (rollback["digest"], rollback["build_id"]) == (digest_of(1), "b1")  # what it removed
    assert (undone["commit"], first["build_id"]) == (bad, "b0")


def test_a_persons_commit_that_pins_a_digest_is_a_manual_deploy(make_config_repo, tmp_path):
    remote = make_config_repo()
    promoted(remote, tmp_path / "w", 0)
    clone = tmp_path / "clone"
    git("clone", "-q", remote, clone)
    manifest = clone / "clusters/prod/deployment.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace(digest_of(0), digest_of("by-hand")))
    (clone / "NOTES.md").write_text("no image here\n")
    person(clone, "commit", "-qam", "Pin prod by hand")
    person(clone, "add", "NOTES.md")
    person(clone, "commit", "-qm", "Notes")
    person(clone, "push", "-q", "origin", "HEAD:main")
    found = history_cli(remote, tmp_path / "reader")
    assert [d["kind"] for d in found] == ["manual", "promotion"]  # the notes deploy nothing
    assert (found[0]["image"], found[0]["digest"]) == (WEB, digest_of("by-hand"))
    assert found[0]["paths"] == ["clusters/prod/deployment.yaml"]
    assert found[0]["build_id"] is None


def test_a_kustomize_or_helm_digest_set_by_hand_is_a_manual_deploy(make_config_repo, tmp_path):
    values = f"image:\n  repository: {OTHER}\n  tag: '1'\n  digest: {{}}\n"
    remote = make_config_repo({"charts/other/values.yaml": values.format(digest_of("old"))})
    promoted(remote, tmp_path / "w", 0)
    clone = tmp_path / "clone"
    git("clone", "-q", remote, clone)
    kustomization = clone / "clusters/dev/kustomization.yaml"
    text = kustomization.read_text()
    assert f"digest: {digest_of(0)}" in text  # the promotion wrote the entry's digest field
    kustomization.write_text(text.replace(digest_of(0), digest_of("by-hand")))
    person(clone, "commit", "-qam", "Pin dev by hand")
    (clone / "charts/other/values.yaml").write_text(values.format(digest_of("new")))
    person(clone, "commit", "-qam", "Pin other by hand")
    (clone / "charts/other/values.yaml").write_text(values.format(digest_of("new")) + "# note\n")
    person(clone, "commit", "-qam", "A comment: no digest added")
    person(clone, "push", "-q", "origin", "HEAD:main")
    found = history_cli(remote, tmp_path / "reader")
    assert [(d["kind"], d["image"], d["digest"]) for d in found] == [
        ("manual", OTHER, digest_of("new")),
        ("manual", WEB, digest_of("by-hand")),
        ("promotion", WEB, digest_of(0)),
        ("manual", OTHER, digest_of("old")),  # the seed commit pinned it
    ]


def test_image_and_path_filters(make_config_repo, tmp_path):
    pod = (
        f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: o\n      image: {OTHER}:1\n"
    )
    remote = make_config_repo({"apps/other/pod.yaml": pod})
    promoted(remote, tmp_path / "w", 0)
    promoted(remote, tmp_path / "w", 1, image=OTHER)
    only_web = history_cli(remote, tmp_path / "reader", "--image", WEB)
    assert [d["build_id"] for d in only_web] == ["b0"]
    prod = history_cli(remote, tmp_path / "reader", "--path", "clusters/prod/*")
    assert [(d["build_id"], d["paths"]) for d in prod] == [
        ("b0", ["clusters/prod/deployment.yaml"])
    ]
    assert history_cli(remote, tmp_path / "reader", "--image", "nowhere.example/x") == []


def test_a_shallow_workspace_is_deepened_only_as_far_as_the_limit_needs(make_config_repo, tmp_path):
    remote = make_config_repo()
    clone = tmp_path / "clone"
    git("clone", "-q", remote, clone)
    for n in range(150):  # people's commits that deploy nothing, older than the promotions
        person(clone, "commit", "-q", "--allow-empty", "-m", f"chore {n}")
    person(clone, "push", "-q", "origin", "HEAD:main")
    commits = [promoted(remote, tmp_path / "w", n) for n in range(3)]
    reader = tmp_path / "reader"
    again = build(create_time="2026-03-02T09:02:00Z", digest=digest_of(2), build_id="b2")
    assert promote_cli(again, remote, reader).returncode == 0
    [workspace] = [p for p in reader.iterdir() if p.is_dir()]
    assert (workspace / "shallow").exists()  # a promotion's workspace starts from one commit

    latest = history_cli(remote, reader, "--limit", "2")
    assert [d["commit"] for d in latest] == commits[:0:-1]
    assert (workspace / "shallow").exists()  # 2 deploys did not need the whole history
    everything = history_cli(remote, reader, "--limit", "0")
    assert [d["commit"] for d in everything] == commits[::-1]
    assert not (workspace / "shallow").exists()


def test_the_table_has_a_header_and_a_row_per_deploy(make_config_repo, tmp_path):
    remote = make_config_repo()
    promoted(remote, tmp_path / "w", 0)
    done = run_cli("history", "--repo", remote, "--workdir", tmp_path / "reader")
    header, row = done.stdout.splitlines()
    assert header.split()[:4] == ["TIME", "KIND", "IMAGE", "BUILD"]
    assert "promotion" in row and "web@" in row and "b0" in row


def test_a_negative_limit_is_refused(make_config_repo, tmp_path):
    done = run_cli("history", "--repo", make_config_repo(), "--limit", "-1")
    assert done.returncode == 2
    assert done.stderr == "promoter: error: --limit: expected 0 (everything) or more, got -1\n"


def _commit(sha: str, message: str, **kwargs: Any) -> Commit:
    return Commit(sha, 1772442000, "a <a@b>", message, ("x.yaml",), **kwargs)


def test_a_rollback_of_trailer_names_what_it_undid():
    promotion = _commit("a" * 40, f"Promote\n\nBuild-Id: b1\nImage: {WEB}@sha256:{'1' * 64}\n")
    rollback = _commit("b" * 40, f"Roll back web\n\nRollback-Of: {'a' * 40}\n")
    [deploy] = deploys_of(rollback, {promotion.id: promotion})
    assert (deploy.kind, deploy.build_id, deploy.digest) == ("rollback", "b1", f"sha256:{'1' * 64}")


def test_a_revert_whose_promotion_is_outside_the_window_is_read_from_the_reverted_map():
    promotion = _commit("a" * 40, f"Promote\n\nBuild-Id: b1\nImage: {WEB}@sha256:{'1' * 64}\n")
    revert = _commit("c" * 40, f'Revert "Promote"\n\nThis reverts commit {"a" * 40}.\n')
    [deploy] = history([revert], reverted={promotion.id: promotion})
    assert deploy.kind == "rollback"


@pytest.mark.parametrize("text", ["Promote\n\nBuild-Id: b1\n", "Notes\n\nSigned-off-by: x <x@y>\n"])
def test_commits_that_deploy_nothing_are_not_listed(text):
    assert history([_commit("d" * 40, text)]) == []


# Survivors of the history mutation run (docs/TESTING.md), each checked by applying it.

D1, D2 = f"sha256:{'1' * 64}", f"sha256:{'2' * 64}"
OTHER = "europe-west1-docker.pkg.dev/demo-shop/apps/aaa"  # sorts before WEB


def test_a_rollback_commit_names_each_removed_image_with_its_own_build():
    message = (
        "Roll back\n\nRemoved-Image: "
        f"{WEB}@{D1}\nRemoved-Image: {OTHER}@{D2}\nRemoved-Image: {WEB}\n"
        "Removed-Build: b1\n"
    )
    deploys = deploys_of(_commit("e" * 40, message), {})
    assert [(d.kind, d.image, d.digest, d.build_id) for d in deploys] == [
        ("rollback", WEB, D1, "b1"),
        ("rollback", OTHER, D2, None),
        ("rollback", WEB, None, None),
    ]
    unknown = f"Roll back\n\nRemoved-Image: {WEB}@{D1}\nRemoved-Build: -\n"
    [deploy] = deploys_of(_commit("e" * 40, unknown), {})
    assert deploy.build_id is None


def test_a_hold_or_release_commit_is_listed_as_one():
    for kind in ("Hold", "Release"):
        message = f"{kind} web\n\n{kind}: {WEB}\n{kind}-Path: prod/**\n"
        [deploy] = deploys_of(_commit("f" * 40, message), {})
        assert (deploy.kind, deploy.image, deploy.paths) == (kind.lower(), WEB, ("prod/**",))


def test_a_promotion_names_its_first_build_and_leaves_the_ledger_out_of_its_paths():
    message = f"Promote\n\nBuild-Id: b1\nBuild-Id: b2\nImage: {WEB}@{D1}\n"
    paths = (".argocd/app.yaml", ".promoter/ledger.jsonl", "a.yaml")
    [deploy] = deploys_of(Commit("a" * 40, 1, "a", message, paths), {})
    assert (deploy.build_id, deploy.paths) == ("b1", (".argocd/app.yaml", "a.yaml"))


def test_a_revert_lists_only_what_the_promotion_it_undid_deployed():
    hold = _commit("a" * 40, f"Hold web\n\nHold: {WEB}\nHold-Path: **\n")
    revert = _commit("c" * 40, f'Revert "Hold web"\n\nThis reverts commit {"a" * 40}.\n')
    assert deploys_of(revert, {hold.id: hold}) == []


def test_filters_and_the_limit_keep_exactly_what_they_name():
    commits = [
        _commit(c * 40, f"Promote\n\nBuild-Id: {c}\nImage: {image}@{D1}\n")
        for c, image in (("a", WEB), ("b", OTHER), ("c", WEB), ("d", WEB))
    ]
    assert [d.build_id for d in history(commits, image=WEB)] == ["a", "c", "d"]
    assert [d.build_id for d in history(commits, image=OTHER)] == ["b"]
    assert [d.build_id for d in history(commits, image=WEB, limit=2)] == ["a", "c"]
    assert [d.build_id for d in history(commits, limit=1)] == ["a"]


def test_a_message_of_one_paragraph_has_no_trailers():
    assert _commit("a" * 40, f"Build-Id: b1\nImage: {WEB}@{D1}\n").trailers == {}
