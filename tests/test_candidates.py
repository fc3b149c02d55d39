"""The kept answer to 'which files name this repository', advanced by changed paths."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from promoter.candidates import CandidateIndex
from promoter.images import grep_pattern, names

from .conftest import git

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


NEAR_MISSES = [
    f"image: {WEB}-api:1.2",
    f"image: {WEB}70:1",
    f"image: {WEB}_x@sha256:{'0' * 64}",
    f"image: {WEB}.v2:1",
    f"image: {WEB}/sidecar:1",
    f"- name: {WEB}hook",
    f"image: mirror.example.com/{WEB}:1",
    f"image: x{WEB}:1",
    f"  newName: registry.io/{WEB}",
]
NAMING = [
    f"image: {WEB}:1.2",
    f"image: {WEB}@sha256:{'0' * 64}",
    f'image: "{WEB}"',
    f"image: '{WEB}:1'",
    f"- name: {WEB}",
    f"  newName: {WEB}   # the app",
    f"  newName: {WEB}\r",
    f"- {{name: {WEB}, newTag: v1}}",
    f"- {{name: {WEB}}}",
    f"images: [{WEB}]",
    f"image:\t{WEB}\t",
    f'{{"image":"{WEB}:1"}}',
    f"{WEB}:1",
    f"- {WEB}",
]


def test_only_files_naming_the_repository_itself_are_candidates():
    files = {f"near-{n}.yaml": line.encode() for n, line in enumerate(NEAR_MISSES)}
    files |= {f"names-{n}.yaml": line.encode() for n, line in enumerate(NAMING)}
    index = CandidateIndex("t1", {WEB: set()})
    index.advance("t2", sorted(files), files.get)
    assert index.paths[WEB] == {f"names-{n}.yaml" for n in range(len(NAMING))}


def test_git_grep_finds_the_same_files_as_the_search_in_process(tmp_path: Path):
    work = tmp_path / "w"
    work.mkdir()
    lines = NEAR_MISSES + NAMING
    for n, line in enumerate(lines):
        (work / f"f{n}.yaml").write_bytes(f"kind: X\n{line}\nz: 1\n".encode())
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "x", cwd=work)
    grep = subprocess.run(
        ["git", "grep", "-l", "-E", "-e", grep_pattern(WEB), "HEAD", "--", "*.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    by_git = {entry.split(":", 1)[1] for entry in grep.stdout.split()}
    in_process = {path.name for path in work.glob("*.yaml") if names(WEB).search(path.read_text())}
    assert by_git == in_process == {f"f{n}.yaml" for n in range(len(NEAR_MISSES), len(lines))}


def test_an_index_of_an_older_version_is_not_trusted(tmp_path: Path):
    file = tmp_path / "index.json"
    file.write_text(json.dumps({"tip": "t", "paths": {WEB: ["near-miss.yaml"]}}))
    assert CandidateIndex.load(file) == CandidateIndex()
