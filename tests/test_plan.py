"""The pure decision: property tests of the promotion invariants, without git."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promoter import ledger as ledger_file
from promoter.events import BuildTime, from_envelope
from promoter.ledger import Ledger, Record
from promoter.plan import plan
from promoter.policy import Policy

from .conftest import DATA, WEB, WORKER, build, digest_of

FILES = {
    path.relative_to(DATA / "configrepo").as_posix(): path.read_text()
    for path in (DATA / "configrepo").rglob("*.yaml")
}


def apply(files: dict[str, str], body: dict[str, Any]) -> str:
    """Run one event through plan() and write its result into `files`; return the outcome."""
    ledger = Ledger.from_text(files.get(ledger_file.PATH))
    manifests = {p: t for p, t in files.items() if p != ledger_file.PATH}
    decided = plan(from_envelope(body), policy=Policy(), files=manifests, ledger=ledger)
    files.update(decided.files)
    return decided.outcome


builds = st.lists(
    st.tuples(st.sampled_from([WEB, WORKER]), st.integers(0, 59), st.integers(0, 999_999_999)),
    min_size=1,
    max_size=12,
    unique_by=lambda b: (b[1], b[2]),
)


@settings(max_examples=60, deadline=None)
@given(builds=builds, order=st.randoms(use_true_random=False), repeats=st.integers(1, 3))
def test_any_order_and_repetition_ends_at_the_newest_build(builds, order, repeats):
    bodies = [
        build(
            build_id=f"b{minute:02d}{nanos:09d}",
            image=image,
            create_time=f"2026-03-02T09:{minute:02d}:00.{nanos:09d}Z",
            digest=digest_of((minute, nanos)),
        )
        for image, minute, nanos in builds
    ]
    deliveries = bodies * repeats
    order.shuffle(deliveries)
    files = dict(FILES)
    promoted: dict[str, set[str]] = {}
    last: dict[tuple[str, str], tuple[object, str]] = {}
    for body in deliveries:
        if apply(files, body) == "promoted":
            assert body["id"] not in promoted.get(body["results"]["images"][0]["name"], set())
            promoted.setdefault(body["results"]["images"][0]["name"], set()).add(body["id"])
        # Never backwards: a target's recorded build only ever moves to a newer one.
        for target, record in Ledger.from_text(files.get(ledger_file.PATH)).records.items():
            now = (record.create_time, record.build_id)
            assert now >= last.get(target, now)
            last[target] = now

    for image in (WEB, WORKER):
        mine = [b for b in bodies if b["results"]["images"][0]["name"].startswith(image + ":")]
        if not mine:
            continue
        newest = max(mine, key=lambda b: b["createTime"])
        digest = newest["results"]["images"][0]["digest"]
        where = "clusters/prod/deployment.yaml" if image == WEB else "apps/worker/job.yaml"
        assert digest in files[where]
        others = [b["results"]["images"][0]["digest"] for b in mine if b is not newest]
        assert not any(d in files[where] for d in others)


def test_plan_for_a_failed_build_reads_nothing():
    decided = plan(
        from_envelope(build(status="FAILURE")), policy=Policy(), files={}, ledger=Ledger({})
    )
    assert (decided.outcome, decided.files) == ("ignored", {})


def test_unparseable_candidate_is_skipped_with_its_name_and_others_still_promote():
    files = dict(FILES)
    files["clusters/broken.yaml"] = f"apiVersion: v1\nkind: Pod\nspec: [\n  image: {WEB}\n"
    decided = plan(from_envelope(build()), policy=Policy(), files=files, ledger=Ledger({}))
    assert decided.outcome == "promoted"
    assert "clusters/broken.yaml" in decided.reason
    assert "clusters/broken.yaml" not in decided.files


def test_ledger_written_by_plan_is_sorted_json_lines():
    # The ledger already names targets that sort after the ones this build adds, so the
    # order in which records were read and added is not the sorted order.
    earlier = from_envelope(build(image=WORKER, create_time="2026-03-01T00:00:00Z"))
    first = plan(earlier, policy=Policy(), files=dict(FILES), ledger=Ledger({}))
    ledger = Ledger.from_text(first.files[ledger_file.PATH].replace('"path":"', '"path":"zz/'))
    assert ledger.records and all(path.startswith("zz/") for path, _ in ledger.records)
    decided = plan(from_envelope(build()), policy=Policy(), files=dict(FILES), ledger=ledger)
    text = decided.files[ledger_file.PATH]
    keys = [_target(line) for line in text.split("\n")[:-1]]
    assert len(keys) == 3 + len(ledger.records) and keys[-1][0].startswith("zz/")
    assert keys == sorted(keys) and text.endswith("}\n")


def _target(line: str) -> tuple[str, str]:
    record = json.loads(line)
    return record["path"], record["repository"]


@given(
    targets=st.lists(
        st.tuples(st.text("abz/.", min_size=1, max_size=6), st.sampled_from([WEB, WORKER])),
        unique=True,
        max_size=8,
    )
)
def test_any_ledger_is_written_sorted_by_target(targets):
    records = [
        Record(path, repository, f"b{n}", BuildTime.parse("2026-03-01T00:00:00Z"), digest_of(n))
        for n, (path, repository) in enumerate(targets)
    ]
    text = Ledger({}).with_records(records).to_text()
    written = [
        (json.loads(line)["path"], json.loads(line)["repository"]) for line in text.splitlines()
    ]
    assert written == sorted(targets)
    assert Ledger.from_text(text).records == {r.target: r for r in records}


def test_a_rolled_back_build_is_not_written_again_where_it_was_reverted():
    event = from_envelope(build(digest=digest_of("reverted")))
    decided = plan(
        event,
        policy=Policy(),
        files=dict(FILES),
        ledger=Ledger({}),
        rolled_back={"clusters/prod/deployment.yaml"},
    )
    assert decided.outcome == "promoted"
    assert "clusters/prod/deployment.yaml" not in decided.files
    assert (
        "kept the rollback" in decided.reason and "clusters/prod/deployment.yaml" in decided.reason
    )

    everywhere = set(FILES)
    decided = plan(
        event, policy=Policy(), files=dict(FILES), ledger=Ledger({}), rolled_back=everywhere
    )
    assert (decided.outcome, decided.files) == ("ignored", {})
    assert decided.reason.startswith(f"rolled back: build {event.build_id} was reverted in ")


def test_the_reason_counts_references_and_files():
    decided = plan(from_envelope(build()), policy=Policy(), files=dict(FILES), ledger=Ledger({}))
    assert decided.reason == "pinned 3 image reference(s) in 3 file(s)"


def test_a_file_the_policy_leaves_out_does_not_stop_the_files_after_it():
    # "apps/..." sorts before "clusters/...": the first file is left out, the rest promote.
    policy = Policy.from_yaml(f'images:\n  - repository: {WEB}\n    paths: ["clusters/prod/**"]\n')
    files = {"apps/web.yaml": FILES["clusters/prod/deployment.yaml"], **FILES}
    decided = plan(from_envelope(build()), policy=policy, files=files, ledger=Ledger({}))
    assert [c.path for c in decided.changes] == ["clusters/prod/deployment.yaml"]


def test_a_build_without_a_branch_is_named_so_when_the_policy_wants_one():
    policy = Policy.from_yaml(f'images:\n  - repository: {WEB}\n    branches: ["main"]\n')
    decided = plan(from_envelope(build(branch=None)), policy=policy, files=FILES, ledger=Ledger({}))
    assert decided.reason == "promoter.yaml promotes none of the build's images from branch (none)"


def test_the_same_build_id_with_another_digest_changes_nothing():
    files = dict(FILES)
    assert apply(files, build(build_id="b-1", digest=digest_of("genuine"))) == "promoted"
    # A second message for the same build claiming another digest: the ledger has this build.
    assert apply(files, build(build_id="b-1", digest=digest_of("forged"))) == "unchanged"
    assert digest_of("forged") not in "".join(files.values())


def test_a_newer_build_promotes_whatever_its_id_sorts_like():
    files = dict(FILES)
    assert apply(files, build(build_id="zzzz", create_time="2026-03-02T09:00:00Z")) == "promoted"
    newer = build(build_id="aaaa", create_time="2026-03-02T09:00:01Z", digest=digest_of("newer"))
    assert apply(files, newer) == "promoted"
    assert digest_of("newer") in files["clusters/prod/deployment.yaml"]
