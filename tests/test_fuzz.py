"""Fuzzing the whole promotion: mutated manifests in a real config repo, through the CLI.

Each batch commits a few dozen manifests, mutated from the golden seeds (characters deleted or
inserted, YAML indicators and escapes dropped in, lines duplicated, dropped, swapped and
re-indented, tabs, BOMs, CRLF, document markers, non-ASCII text), next to one good manifest,
and promotes one build of the two seed images with `promoter promote`. Whatever the mutations:
- the CLI exits 0 with one JSON object and writes nothing to stderr;
- the good manifest is promoted: no input blocks the others;
- a mutated file is either left byte for byte, or changed only in image values (and a kustomize
  entry's newTag/digest), and reads as the same data apart from them;
- every file left out is named in the reason with its line or cause.

Size: PROMOTER_FUZZ inputs (default 240, a CI-sized run); the seed is the batch number, so a
failure names the batch that reproduces it.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from .conftest import build, git, promote_cli
from .test_manifests import CART, DATA, WEB, assert_minimal_diff

INPUTS = int(os.environ.get("PROMOTER_FUZZ", "240"))
PER_BATCH = 60
SEEDS = sorted(p for p in DATA.glob("*.yaml") if not p.name.endswith(".expected.yaml"))
TOKENS = [
    ":",
    ": ",
    "-",
    "- ",
    "'",
    '"',
    "\t",
    "#",
    " #",
    "&a ",
    "*a",
    "!!str ",
    "!!int ",
    "%",
    "[",
    "]",
    "{",
    "}",
    ",",
    "?",
    "|",
    ">",
    "\\",
    '"\\U0011FFFF"',
    '"\\x"',
    "\n",
    "\r\n",
    "\ufeff",
    "é",
    "\u2028",
    "\x00",
    "\x85",
    "---",
    "...",
    "@",
    "@sha256:",
    "::",
    "//",
]
GOOD = f"""apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  containers:
    - name: cart
      image: {CART}:1.0.0
"""
SKIP_NOTE = re.compile(r"skipped (fuzz/[^:]+\.yaml): (line \d+: .+|not UTF-8)$")


def mutate(text: str, rng: random.Random) -> str:
    """One to four random edits of `text`."""
    for _ in range(rng.randint(1, 4)):
        lines = text.splitlines(keepends=True) or [""]
        at = rng.randrange(len(lines))
        where = rng.randrange(len(text) + 1)
        match rng.randrange(9):
            case 0:
                text = text[:where] + text[where + 1 :]
            case 1:
                text = text[:where] + rng.choice(TOKENS) + text[where:]
            case 2:
                lines.insert(at, lines[at])
                text = "".join(lines)
            case 3:
                del lines[at]
                text = "".join(lines)
            case 4:
                if at + 1 < len(lines):
                    lines[at], lines[at + 1] = lines[at + 1], lines[at]
                text = "".join(lines)
            case 5:
                lines[at] = rng.choice([" ", "  ", "\t", ""]) + lines[at].lstrip(
                    " " if rng.random() < 0.5 else ""
                )
                text = "".join(lines)
            case 6:
                text = text.replace("\n", "\r\n") if rng.random() < 0.5 else "\ufeff" + text
            case 7:
                lines.insert(at, rng.choice(["---\n", "...\n", "--- # x\n", "%YAML 1.2\n"]))
                text = "".join(lines)
            case _:
                text = text[:where]
    return text


def batch(number: int, count: int) -> dict[str, str]:
    rng = random.Random(number)
    files = {}
    for i in range(count):
        seed = rng.choice(SEEDS)
        files[f"fuzz/{i:03}-{seed.stem}.yaml"] = mutate(seed.read_text(), rng)
    return files


def config_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    work = tmp_path / "seed"
    for path, text in {**files, "apps/good.yaml": GOOD}.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(text.encode("utf-8", "surrogatepass"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Seed", cwd=work)
    git("clone", "-q", "--bare", work, tmp_path / "remote.git")
    return tmp_path / "remote.git"


def raw(remote: Path, path: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"main:{path}"], capture_output=True, check=True
    )
    return done.stdout.decode("utf-8", "surrogatepass")


def data_apart_from_images(text: str) -> Any:
    """What a YAML reader sees, with image values and kustomize tags blanked; None if unreadable."""
    try:
        docs = list(YAML(typ="safe", pure=True).load_all(io.StringIO(text)))
    except Exception:  # the independent reader refuses it: nothing to compare with
        return None

    def blank(value: Any) -> Any:
        if isinstance(value, dict):
            # A kustomize entry gains a digest and may gain, change or lose its newTag.
            return {k: blank(v) for k, v in value.items() if k not in ("newTag", "digest")}
        if isinstance(value, list):
            return [blank(v) for v in value]
        if isinstance(value, str) and value.startswith((CART, WEB)):
            return "~"
        return value

    return [blank(doc) for doc in docs]


@pytest.mark.parametrize("number", range(max(1, INPUTS // PER_BATCH)))
def test_mutated_manifests_never_block_a_promotion_or_change_anything_else(number, tmp_path):
    files = batch(number, min(PER_BATCH, INPUTS))
    remote = config_repo(tmp_path, files)
    event = build(
        images=[(CART, "v2.0.0", digest(number, CART)), (WEB, "v2.0.0", digest(number, WEB))]
    )
    done = promote_cli(event, remote, tmp_path / "workdir")

    assert (done.returncode, done.stderr) == (0, ""), f"batch {number}: {done.stderr}"
    result = json.loads(done.stdout)
    assert result["outcome"] == "promoted", f"batch {number}: {result['reason']}"
    assert digest(number, CART) in raw(remote, "apps/good.yaml")
    changed = {c["path"] for c in result["changes"]}
    for path, before in files.items():
        after = raw(remote, path)
        if path not in changed:
            assert after == before, f"batch {number}: {path} changed without a change listed"
            continue
        assert_minimal_diff(before, after)
        old, new = data_apart_from_images(before), data_apart_from_images(after)
        assert old is None or new == old, f"batch {number}: {path} reads differently"
    skipped = [note for note in result["reason"].split("; ") if note.startswith("skipped ")]
    for note in skipped:
        match = SKIP_NOTE.match(note)
        assert match, f"batch {number}: {note}"
        assert match[1] in files and match[1] not in changed
    fuzzed = len(changed & set(files))
    print(f"batch {number}: {len(files)} inputs, {fuzzed} promoted, {len(skipped)} skipped")


def digest(number: int, repository: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(f"{number}{repository}".encode()).hexdigest()
