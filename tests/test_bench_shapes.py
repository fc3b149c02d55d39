"""The benchmark's repo shapes (bench.shapes) are what issue 9 describes, and are judged."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from bench.repos import TARGET
from bench.shapes import build_families, near_miss, pin_by_hand, rendered_text
from bench.targets import exit_status, judge


def _changed_lines(old: str, new: str) -> int:
    assert len(old.splitlines()) == len(new.splitlines())
    return sum(a != b for a, b in zip(old.splitlines(), new.splitlines(), strict=True))


def _target_images(text: str) -> list[str]:
    images = []
    for doc in yaml.safe_load_all(text):
        for container in (
            (doc or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            if container["image"].split(":")[0] == TARGET:
                images.append(container["image"])
    return images


def test_rendered_manifest_names_the_target_in_two_deployments():
    text = rendered_text(200 * 1024)
    assert 200 * 1024 <= len(text) < 210 * 1024
    assert len(_target_images(text)) == 2
    assert text.count("\n...\n") > 0 and text.count("# Source: ") > 300
    assert _changed_lines(text, pin_by_hand(text, 7)) == 2


def test_families_name_the_target_in_12_files_among_near_misses(tmp_path):
    shape = build_families(tmp_path, 10, commits=30)
    git = ["git", "--git-dir", str(shape.bare)]
    files = subprocess.run([*git, "ls-tree", "-r", "--name-only", "main"], capture_output=True)
    commits = subprocess.run([*git, "rev-list", "--count", "main"], capture_output=True)
    assert len(files.stdout.splitlines()) == 12 + 10 and int(commits.stdout) == 30
    changed = 0
    for path in files.stdout.decode().splitlines():
        text = subprocess.run([*git, "show", f"main:{path}"], capture_output=True).stdout.decode()
        changed += _changed_lines(text, pin_by_hand(text, 3))
        assert (path in shape.paths) == (pin_by_hand(text, 3) != text)
    assert len(shape.paths) == 12 and changed == shape.lines == 20


def test_near_misses_contain_the_target_name_but_are_other_images():
    names = {near_miss(i) for i in range(40)}
    assert TARGET not in names and all(TARGET in name for name in names)


SHAPES: dict[str, Any] = {
    name: {
        "sizes": {str(size): {"promoter_over_floor": ratio}},
        "cold": {"size": size, "first_event": {"median": 0.9}, "peak_rss_bytes": {"max": 60 << 20}},
    }
    for name, size, ratio in (("families", 400, 0.9), ("rendered", 800, 1.4))
}


def test_shape_targets_met_and_missed():
    met = [t for t in judge({"shapes": SHAPES}) if t.scenario == "7"]
    assert len(met) == 6 and all(t.met for t in met)
    assert exit_status(judge({"shapes": SHAPES})) == 0
    slow = {
        **SHAPES,
        "rendered": {**SHAPES["rendered"], "sizes": {"800": {"promoter_over_floor": 2}}},
    }
    missed = [t.text for t in judge({"shapes": slow}) if t.met is False]
    assert missed == ["rendered 800 KB: promoter / floor"]
    assert exit_status(judge({"shapes": slow})) == 1


def test_shape_targets_are_judged_at_the_issue_sizes_only():
    small = {"families": {**SHAPES["families"], "sizes": {"100": {"promoter_over_floor": 5}}}}
    small["families"]["cold"] = {**SHAPES["families"]["cold"], "size": 100}
    targets = [t for t in judge({"shapes": small}) if t.scenario == "7"]
    assert len(targets) == 6 and all(t.met is None for t in targets)
