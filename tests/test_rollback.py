"""`promoter rollback`: a new commit restoring an earlier digest, which later events respect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promoter.audit import FileChange, rollback_message
from promoter.holds import Hold, RolledBack
from promoter.ledger import Ledger
from promoter.rollback import restore

from .conftest import WEB, build, count_commits, digest_of, git, promote_cli, run_cli, show, tip

DEV = "clusters/dev/deployment.yaml"
PROD = "clusters/prod/deployment.yaml"
KUSTOMIZATION = "clusters/dev/kustomization.yaml"
TARGETS = (DEV, PROD, KUSTOMIZATION)


def promoted(remote: Path, workdir: Path, n: int, **fields: Any) -> dict[str, Any]:
    """Build `bN` (created at minute N, digest N) promoted; its JSON result."""
    done = promote_cli(event(n, **fields), remote, workdir)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def event(n: int, **fields: Any) -> dict[str, Any]:
    fields.setdefault("digest", digest_of(n))
    fields.setdefault("build_id", f"b{n}")
    return build(create_time=f"2026-03-02T09:{n:02}:00Z", **fields)


def command(verb: str, remote: Path, workdir: Path, *args: str) -> tuple[int, Any, str]:
    done = run_cli(verb, "--repo", remote, "--workdir", workdir, "--image", WEB, *args)
    out = json.loads(done.stdout) if done.returncode == 0 else done.stdout
    return done.returncode, out, done.stderr


def trailers(remote: Path, rev: str = "main") -> list[str]:
    return git("--git-dir", remote, "log", "-1", "--format=%(trailers:only,unfold)", rev).split(
        "\n"
    )


def test_rollback_restores_the_previous_digest_and_says_what_it_removed(make_config_repo, tmp_path):
    remote = make_config_repo()
    commits = [promoted(remote, tmp_path / "w", n)["commit"] for n in range(3)]
    before = count_commits(remote)
    # A new workdir: its workspace starts at depth 1 and must deepen to find the promotion.
    status, result, err = command(
        "rollback", remote, tmp_path / "ops", "--reason", "p99 latency tripled"
    )
    assert (status, err) == (0, "")
    assert result["outcome"] == "rolled-back"
    assert result["commit"] == tip(remote)
    assert count_commits(remote) == before + 1
    assert {c["path"] for c in result["changes"]} == set(TARGETS)
    assert all(c["new"].endswith(digest_of(1)) for c in result["changes"])
    assert all(c["old"].endswith(digest_of(2)) for c in result["changes"])
    for path in TARGETS:
        assert digest_of(1) in show(remote, path) and digest_of(2) not in show(remote, path)
    said = trailers(remote)
    assert f"Rollback-Of: {commits[2]}" in said
    assert f"Removed-Image: {WEB}@{digest_of(2)}" in said and "Removed-Build: b2" in said
    message = git("--git-dir", remote, "log", "-1", "--format=%B")
    assert "Reason: p99 latency tripled" in message and "[skip ci]" in message
    ledger = Ledger.from_text(show(remote, ".promoter/ledger.jsonl"))
    assert {r.build_id for r in ledger.records.values() if r.repository == WEB} == {"b1"}
    rolled = [json.loads(line) for line in show(remote, ".promoter/rolled-back.jsonl").split("\n")]
    assert [(r["digest"], r["build"]) for r in rolled] == [(digest_of(2), "b2")]
    # Only the image reference lines and our own files changed.
    stat = git("--git-dir", remote, "diff", "--numstat", commits[2], "main")
    assert sorted(line.split("\t")[2] for line in stat.splitlines()) == sorted(
        [*TARGETS, ".promoter/ledger.jsonl", ".promoter/rolled-back.jsonl"]
    )
    assert git("--git-dir", remote, "diff", commits[1], "main", "--", *TARGETS) == ""


def test_the_rolled_back_build_and_digest_are_never_promoted_again_but_newer_builds_are(
    make_config_repo, tmp_path
):
    remote = make_config_repo()
    for n in range(3):
        promoted(remote, tmp_path / "w", n)
    assert command("rollback", remote, tmp_path / "ops")[0] == 0
    rolled_back = tip(remote)
    for workdir in (tmp_path / "w", tmp_path / "fresh"):  # a warm and a depth-1 workspace
        again = promoted(remote, workdir, 2)
        assert again["outcome"] == "ignored"
        assert again["reason"].startswith("rolled back")
    # Another build carrying the same digest: the digest is what was rolled back.
    same = promoted(remote, tmp_path / "w", 4, digest=digest_of(2))
    assert (same["outcome"], same["reason"]) == (
        "ignored",
        f"rolled back: {WEB}@{digest_of(2)} was rolled back",
    )
    assert tip(remote) == rolled_back
    fixed = promoted(remote, tmp_path / "w", 5)  # fixing forward
    assert fixed["outcome"] == "promoted"
    assert digest_of(5) in show(remote, DEV)


def test_rollback_again_walks_further_back_then_says_there_is_nothing(make_config_repo, tmp_path):
    remote = make_config_repo()
    for n in range(2):
        promoted(remote, tmp_path / "w", n)
    assert command("rollback", remote, tmp_path / "ops")[0] == 0
    assert digest_of(0) in show(remote, DEV)
    before = tip(remote)
    # Before b0 the seed named the image by tag only: there is no digest to go back to.
    status, out, err = command("rollback", remote, tmp_path / "ops")
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "nothing to roll back" in err, err
    assert tip(remote) == before


def test_rollback_to_a_build_and_the_builds_after_it_stay_rolled_back(make_config_repo, tmp_path):
    remote = make_config_repo()
    commits = [promoted(remote, tmp_path / "w", n)["commit"] for n in range(4)]
    status, result, err = command("rollback", remote, tmp_path / "ops", "--to-build", "b1")
    assert (status, err) == (0, "")
    assert all(c["new"].endswith(digest_of(1)) for c in result["changes"])
    assert git("--git-dir", remote, "diff", commits[1], "main", "--", *TARGETS) == ""
    assert f"Rollback-Of: {commits[3]}" in trailers(remote)
    for n in (2, 3):  # b2 never held the files at the rollback, b3 did: both stay out
        late = promoted(remote, tmp_path / "w", n)
        assert (late["outcome"], late["reason"][:11]) == ("ignored", "rolled back")
    status, out, err = command("rollback", remote, tmp_path / "ops", "--to-build", "nope")
    assert (status, out) == (2, "")
    assert "--to-build nope: no commit of branch 'main' promoted" in err


def test_rollback_to_a_commit_by_its_short_id(make_config_repo, tmp_path):
    remote = make_config_repo()
    commits = [promoted(remote, tmp_path / "w", n)["commit"] for n in range(3)]
    status, result, err = command(
        "rollback", remote, tmp_path / "ops", "--to-commit", commits[0][:9]
    )
    assert (status, err, result["outcome"]) == (0, "", "rolled-back")
    assert git("--git-dir", remote, "diff", commits[0], "main", "--", *TARGETS) == ""
    for bad in ("0" * 40, "xyz"):
        status, out, err = command("rollback", remote, tmp_path / "ops", "--to-commit", bad)
        assert (status, out) == (2, "") and err.startswith("promoter: error: --to-commit"), err


def test_rollback_with_hold_keeps_newer_builds_out_until_release(make_config_repo, tmp_path):
    remote = make_config_repo()
    for n in range(2):
        promoted(remote, tmp_path / "w", n)
    status, result, _ = command("rollback", remote, tmp_path / "ops", "--hold", "--reason", "bad")
    assert status == 0 and result["reason"].endswith(f"; {WEB} held")
    assert "Hold: " + WEB in trailers(remote)
    newer = promoted(remote, tmp_path / "w", 3)
    assert (newer["outcome"], newer["reason"]) == ("ignored", f"held: {WEB} is held in ** (bad)")
    assert command("release", remote, tmp_path / "ops")[1]["outcome"] == "released"
    assert promoted(remote, tmp_path / "w", 3)["outcome"] == "promoted"  # redelivered


def test_history_lists_the_rollback_with_what_it_removed(make_config_repo, tmp_path):
    remote = make_config_repo()
    for n in range(2):
        promoted(remote, tmp_path / "w", n)
    command("rollback", remote, tmp_path / "ops", "--to-build", "b0", "--hold")
    done = run_cli("history", "--repo", remote, "--workdir", tmp_path / "r", "--json")
    found = json.loads(done.stdout)
    assert [(d["kind"], d["digest"], d["build_id"]) for d in found[:3]] == [
        ("rollback", digest_of(1), "b1"),
        ("hold", None, None),
        ("promotion", digest_of(1), "b1"),
    ]
    assert found[0]["source_commit"] == found[2]["source_commit"] is not None
    assert found[1]["paths"] == ["**"]


def test_restore_is_byte_minimal_and_leaves_files_without_an_earlier_digest():
    pod = (
        "# keep\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        "  - name: x  # here\n\n    image: {}   # pinned\n"
    )
    pods = {"a.yaml": pod.format(f"'{WEB}@{digest_of(2)}'"), "b.yaml": pod.format(WEB + ":1")}
    done = restore(
        WEB,
        now=pods,
        then={"a.yaml": pod.format(f"{WEB}@{digest_of(1)}"), "b.yaml": pod.format(WEB)},
        ledger=Ledger({}),
        ledger_then=Ledger({}),
    )
    assert done.files["a.yaml"] == pods["a.yaml"].replace(digest_of(2), digest_of(1))
    assert "b.yaml" not in done.files
    assert done.skipped == (f"b.yaml: held no digest of {WEB} then",)
    assert [(r.digest, r.build) for r in done.removed] == [(digest_of(2), "")]


def test_rollback_message_names_every_removed_digest_and_the_hold():
    change = FileChange("a.yaml", WEB, f"{WEB}@{digest_of(2)}", f"{WEB}@{digest_of(1)}")
    text = rollback_message(
        WEB,
        [change],
        removed=[RolledBack(WEB, digest_of(2), "b2")],
        undone=["c" * 40],
        reason="why\nnot",
        hold=Hold(WEB),
        skip_ci=False,
    )
    subject, *_, last = text.strip().split("\n\n")
    assert subject == f"Roll back web@{digest_of(2)[7:19]} to web@{digest_of(1)[7:19]}"
    assert "Reason: why not" in text and "[skip ci]" not in text
    assert last.split("\n") == [
        f"Rollback-Of: {'c' * 40}",
        f"Removed-Image: {WEB}@{digest_of(2)}",
        "Removed-Build: b2",
        f"Hold: {WEB}",
        "Hold-Path: **",
    ]


HELM_POLICY = f"""\
images:
  - repository: {WEB}
    helm:
      - path: charts/web/values*.yaml
        key: image
"""
VALUES = f"# web\nimage:\n  repository: {WEB}\n  tag: '1.4'  # kept\n"


def test_rollback_restores_helm_values_too(make_config_repo, tmp_path):
    remote = make_config_repo({"promoter.yaml": HELM_POLICY, "charts/web/values.yaml": VALUES})
    for n in range(2):
        promoted(remote, tmp_path / "w", n)
    assert f"digest: {digest_of(1)}" in show(remote, "charts/web/values.yaml")
    status, result, err = command("rollback", remote, tmp_path / "ops")
    assert (status, err) == (0, "")
    assert "charts/web/values.yaml" in {c["path"] for c in result["changes"]}
    assert show(remote, "charts/web/values.yaml") == VALUES + f"  digest: {digest_of(0)}"
