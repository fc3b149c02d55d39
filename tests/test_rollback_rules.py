"""Rolling an image back, on texts (promoter.rollback.restore): every file is looked at whatever
happened to the one before, what was removed is listed with its own build, the ledger goes back
only where it held that digest (each case a survivor of the rollback mutation run; TESTING.md)."""

from __future__ import annotations

from promoter.ledger import Ledger, Record
from promoter.rollback import restore

from .conftest import WEB, digest_of
from .test_carry import record

POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: web\n      image: {}\n"
KUSTOMIZATION = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "images:\n  - name: {}\n    newTag: '{}'\n    digest: {}\n"
)


def pod(n: int | None) -> str:
    return POD.format(f"{WEB}@{digest_of(n)}" if n is not None else f"{WEB}:1")


def ledger(*records: Record) -> Ledger:
    return Ledger({r.target: r for r in records})


def test_every_file_is_restored_whatever_the_files_before_it_were():
    now = {
        "a.yaml": pod(3),  # held no digest then
        "b.yaml": "kind: [unclosed\n",  # unreadable now
        "c.yaml": pod(1),  # already at the digest it held then
        "d.yaml": pod(3),  # restored
    }
    then = {"a.yaml": pod(None), "b.yaml": pod(1), "c.yaml": pod(1), "d.yaml": pod(1)}
    done = restore(WEB, now=now, then=then, ledger=Ledger({}), ledger_then=Ledger({}))
    assert sorted(done.files) == [".promoter/ledger.jsonl", "d.yaml"]
    assert done.files["d.yaml"] == pod(1)
    assert done.skipped[0] == f"a.yaml: held no digest of {WEB} then"
    assert len(done.skipped) == 2 and done.skipped[1].startswith("b.yaml: line 2: ")


def test_only_digests_are_removed_and_each_names_the_build_the_ledger_gave_that_digest():
    assert digest_of(9) < digest_of(4) and digest_of(0) > digest_of(8)
    two_containers = pod(3) + f"    - name: side\n      image: {WEB}:2\n"
    now = {"a.yaml": two_containers, "b.yaml": pod(4), "c.yaml": pod(8)}
    then = {path: pod(1) for path in now}
    current = ledger(
        record("a.yaml", "b3", "2026-03-02T09:03:00Z", 3),  # the digest the file holds
        record("b.yaml", "b9", "2026-03-02T09:09:00Z", 9),  # not the one it holds (sorts before)
        record("c.yaml", "b0", "2026-03-02T09:00:00Z", 0),  # nor here (sorts after)
    )
    done = restore(WEB, now=now, then=then, ledger=current, ledger_then=Ledger({}))
    assert [(r.digest, r.build) for r in done.removed] == sorted(
        [(digest_of(3), "b3"), (digest_of(4), ""), (digest_of(8), "")]
    )


def test_a_digest_one_file_goes_back_to_is_not_listed_as_removed_by_another():
    now = {"a.yaml": pod(2), "b.yaml": pod(1)}
    then = {"a.yaml": pod(1), "b.yaml": pod(0)}
    done = restore(WEB, now=now, then=then, ledger=Ledger({}), ledger_then=Ledger({}))
    assert [r.digest for r in done.removed] == [digest_of(2)]


def test_the_ledger_goes_back_only_where_it_held_the_digest_restored():
    assert digest_of(0) < digest_of(1) < digest_of(2)
    now = {"a.yaml": pod(3), "b.yaml": pod(3), "c.yaml": pod(3)}
    then = {path: pod(1) for path in now}
    at_the_time = record("a.yaml", "b1", "2026-03-02T09:01:00Z", 1)
    done = restore(
        WEB,
        now=now,
        then=then,
        ledger=ledger(*(record(p, "b3", "2026-03-02T09:03:00Z", 3) for p in now)),
        ledger_then=ledger(
            at_the_time,
            record("b.yaml", "b0", "2026-03-02T09:00:00Z", 0),  # another digest then (before)
            record("c.yaml", "b2", "2026-03-02T09:02:00Z", 2),  # and another (after)
        ),
    )
    assert Ledger.from_text(done.files[".promoter/ledger.jsonl"]) == ledger(at_the_time)


def test_a_tag_that_is_no_tag_is_left_out_and_the_digest_restored():
    now = {"k.yaml": KUSTOMIZATION.format(WEB, "2", digest_of(2))}
    then = {"k.yaml": KUSTOMIZATION.format(WEB, "not a tag!", digest_of(1))}
    done = restore(WEB, now=now, then=then, ledger=Ledger({}), ledger_then=Ledger({}))
    assert done.files["k.yaml"] == now["k.yaml"].replace("    newTag: '2'\n", "").replace(
        digest_of(2), digest_of(1)
    )
