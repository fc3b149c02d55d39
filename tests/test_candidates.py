"""The kept answer to 'which files name this repository', advanced by changed paths."""

from __future__ import annotations

from pathlib import Path

from promoter.candidates import CandidateIndex

WEB = "registry.example/apps/web"


def test_advance_adds_and_drops_changed_paths(tmp_path: Path):
    index = CandidateIndex("t1", {WEB: {"a.yaml", "b.yaml"}})
    files = {"a.yaml": b"image: registry.example/apps/web:1", "c.yaml": f"x: {WEB}".encode()}
    index.advance("t2", ["a.yaml", "b.yaml", "c.yaml"], files.get)
    assert index.tip == "t2"
    assert index.paths[WEB] == {"a.yaml", "c.yaml"}


def test_unknown_change_forgets_everything_and_new_needles_are_searched():
    index = CandidateIndex("t1", {WEB: {"a.yaml"}})
    index.advance("t2", None, lambda path: None)
    searched = []
    assert index.lookup([WEB], lambda needle: searched.append(needle) or {"z.yaml"}) == {"z.yaml"}  # type: ignore[func-returns-value]
    assert searched == [WEB]
    assert index.lookup([WEB], lambda needle: searched.append(needle) or set()) == {"z.yaml"}  # type: ignore[func-returns-value]
    assert searched == [WEB]


def test_round_trip_and_corrupt_file(tmp_path: Path):
    file = tmp_path / "index.json"
    CandidateIndex("t", {WEB: {"a.yaml"}}).save(file)
    assert CandidateIndex.load(file) == CandidateIndex("t", {WEB: {"a.yaml"}})
    file.write_text('{"tip": "t", "paths": [')
    assert CandidateIndex.load(file) == CandidateIndex()
    assert list(tmp_path.iterdir()) == [file]
