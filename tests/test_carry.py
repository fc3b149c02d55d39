"""Carrying one environment's digests into the next (promoter.carry), on texts: which build is the
source, never an older build over a newer, one unreadable file skipped, the soak gate's wording."""

from __future__ import annotations

import pytest

from promoter.carry import Source, carry, gates, sources
from promoter.environments import Environment
from promoter.events import BuildTime
from promoter.holds import Hold, Holds
from promoter.ledger import PATH as LEDGER_PATH
from promoter.ledger import Ledger, Record

from .conftest import deployment, digest_of

WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
DEV = Environment("dev", ("clusters/dev/**",))
PROD = Environment("prod", ("clusters/prod/**",), source="dev", soak_seconds=3600)


def record(path: str, build: str, time: str, n: int = 1, repository: str = WEB) -> Record:
    return Record(path, repository, build, BuildTime.parse(time), digest_of(n))


def source(rec: Record, committed_at: int | None = 1_000) -> Source:
    return Source(rec, "t1", "c0ffee", committed_at)


@pytest.mark.parametrize("newest_first", [True, False])
def test_the_source_is_the_environments_newest_build_wherever_its_file_sorts(newest_first):
    old = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"
    paths = ["clusters/dev/a.yaml", "clusters/dev/b.yaml"]
    times = old if not newest_first else old[::-1]
    records = [record(p, f"b-{t}", t, n) for n, (p, t) in enumerate(zip(paths, times, strict=True))]
    newest = max(records, key=lambda r: r.create_time)
    assert sources(Ledger({r.target: r for r in records}), DEV) == {WEB: newest}


def test_at_the_same_time_the_build_id_decides_and_other_environments_are_not_sources():
    same = "2026-03-02T09:00:00Z"
    records = [
        record("clusters/dev/a.yaml", "b2", same, 2),
        record("clusters/dev/b.yaml", "b1", same, 1),
        record("clusters/prod/a.yaml", "b9", "2026-03-02T11:00:00Z", 9),
        record("apps/a.yaml", "b8", "2026-03-02T11:00:00Z", 8),  # sorts first, in no environment
    ]
    found = sources(Ledger({r.target: r for r in records}), DEV)
    assert found == {WEB: records[0]}
    assert sources(Ledger({r.target: r for r in records}), DEV, images=["other"]) == {}


@pytest.mark.parametrize(
    ("target_time", "target_build", "carried"),
    [
        ("2026-03-02T08:00:00Z", "b0", True),  # an older build there: carried over it
        ("2026-03-02T09:00:00Z", "b1", False),  # the same build: nothing to do
        ("2026-03-02T10:00:00Z", "b2", False),  # a newer build there: never an older over it
    ],
)
def test_never_an_older_build_over_a_newer_one(target_time, target_build, carried):
    path = "clusters/prod/web.yaml"
    src = record("clusters/dev/web.yaml", "b1", "2026-03-02T09:00:00Z", 1)
    current = record(path, target_build, target_time, 7)
    text = deployment(f"{WEB}@{digest_of(7)}")
    result = carry({WEB: source(src)}, files={path: text}, ledger=Ledger({current.target: current}))
    assert bool(result.changes) is carried
    if carried:
        assert digest_of(1) in result.files[path]
        assert '"build":"b1"' in result.files[LEDGER_PATH]


def test_an_unreadable_file_is_skipped_and_the_files_after_it_are_carried():
    src = record("clusters/dev/web.yaml", "b1", "2026-03-02T09:00:00Z", 1)
    files = {
        "clusters/prod/a.yaml": "image: [unclosed\n",
        "clusters/prod/b.yaml": deployment(f"{WEB}:old"),
    }
    result = carry({WEB: source(src)}, files=files, ledger=Ledger({}))
    assert [c.path for c in result.changes] == ["clusters/prod/b.yaml"]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("clusters/prod/a.yaml: ")


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (1, "1s"),
        (60, "1m"),
        (61, "1m1s"),
        (3599, "59m59s"),
        (3600, "1h"),
        (3601, "1h1s"),
        (3660, "1h1m"),
        (5400, "1h30m"),
        (7322, "2h2m2s"),
    ],
)
def test_the_soak_gate_says_how_long_is_left(left, text):
    src = record("clusters/dev/web.yaml", "b1", "2026-03-02T09:00:00Z")
    target = Environment("prod", ("clusters/prod/**",), source="dev", soak_seconds=7322)
    now = 1_000 + 7322 - left
    closed = gates(target, {WEB: source(src)}, holds=Holds(), target_paths=[], now=now)
    assert [(g.name, g.why) for g in closed] == [("soak", f"soaking: {text} left")]


def test_a_soaked_source_passes_and_an_unknown_commit_does_not():
    src = record("clusters/dev/web.yaml", "b1", "2026-03-02T09:00:00Z")
    done = gates(PROD, {WEB: source(src)}, holds=Holds(), target_paths=[], now=1_000 + 3600)
    assert done == []
    unknown = gates(PROD, {WEB: source(src, None)}, holds=Holds(), target_paths=[], now=0)
    assert [(g.name, g.why) for g in unknown] == [("soak", "its promotion commit was not found")]
    no_soak = Environment("prod", ("clusters/prod/**",), source="dev")
    assert gates(no_soak, {WEB: source(src, None)}, holds=Holds(), target_paths=[], now=0) == []


def test_a_held_image_names_the_first_held_file_with_its_own_reason():
    src = record("clusters/dev/web.yaml", "b1", "2026-03-02T09:00:00Z")
    holds = Holds(
        (
            Hold(WEB, "clusters/prod/a.yaml", "incident 42"),
            Hold(WEB, "clusters/prod/b.yaml"),
        )
    )
    paths = ["clusters/prod/a.yaml", "clusters/prod/b.yaml"]
    target = Environment("prod", ("clusters/prod/**",), source="dev")
    closed = gates(target, {WEB: source(src)}, holds=holds, target_paths=paths, now=2_000)
    assert [(g.name, g.why) for g in closed] == [
        ("held", "held in clusters/prod/a.yaml (incident 42)")
    ]
    closed = gates(target, {WEB: source(src)}, holds=holds, target_paths=paths[::-1], now=2_000)
    assert [(g.name, g.why) for g in closed] == [("held", "held in clusters/prod/b.yaml")]
