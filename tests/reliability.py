"""The reliability harness: many builds, delivered twice or more and shuffled, to many promoter
processes; then the invariants, checked on the remote repo alone.

Used by tests/test_reliability.py (a CI-sized run) and by `python -m bench.reliability` (long).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import GIT_ENV, build, digest_of, git

REGISTRY = "europe-west1-docker.pkg.dev/demo-shop/apps"

MANIFEST = """# {name}: promoted by the promoter
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image}:0.0.0
"""


def config_repo(root: Path, images: int) -> Path:
    """A bare repo with one Deployment per image, and a reflog that records every update."""
    work = root / "seed"
    for n in range(images):
        path = work / f"apps/svc-{n:02d}/deployment.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(MANIFEST.format(name=f"svc-{n:02d}", image=f"{REGISTRY}/svc-{n:02d}"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Seed", cwd=work)
    bare = root / "remote.git"
    git("clone", "-q", "--bare", work, bare)
    git("--git-dir", bare, "config", "core.logAllRefUpdates", "always")
    git("--git-dir", bare, "config", "receive.denyNonFastForwards", "false")  # we must not need it
    return bare


def builds(images: int, per_image: int, rng: random.Random) -> list[dict[str, Any]]:
    """`per_image` builds of each image with distinct, shuffled creation times."""
    made = []
    for n in range(images):
        seconds = rng.sample(range(86_400), per_image)
        for s in seconds:
            nanos = rng.randrange(10**9)
            when = f"2026-03-02T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{nanos:09d}Z"
            build_id = str(uuid.UUID(int=rng.getrandbits(128)))
            made.append(
                build(
                    build_id=build_id,
                    image=f"{REGISTRY}/svc-{n:02d}",
                    tag=f"t{s}",
                    create_time=when,
                    digest=digest_of(build_id),
                )
            )
    return made


def deliveries(made: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Every build two or three times, in a random order."""
    out = [b for b in made for _ in range(rng.choice((2, 3)))]
    rng.shuffle(out)
    return out


@dataclass
class Findings:
    """What the invariant check saw on the remote."""

    commits: int = 0
    promotions: int = 0
    lost_updates: list[str] = field(default_factory=list)
    duplicate_commits: list[str] = field(default_factory=list)
    backwards_moves: list[str] = field(default_factory=list)
    non_fast_forwards: list[str] = field(default_factory=list)
    merges: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.lost_updates
            or self.duplicate_commits
            or self.backwards_moves
            or self.non_fast_forwards
            or self.merges
        )

    def summary(self) -> dict[str, int]:
        return {
            "commits": self.commits,
            "promotions": self.promotions,
            "lost_updates": len(self.lost_updates),
            "duplicate_commits": len(self.duplicate_commits),
            "backwards_moves": len(self.backwards_moves),
            "non_fast_forwards": len(self.non_fast_forwards),
            "merges": self.merges,
        }


def check(remote: Path, made: list[dict[str, Any]]) -> Findings:
    """Check every invariant on the remote's history and reflog."""
    found = Findings()
    history = git("--git-dir", remote, "rev-list", "--reverse", "--parents", "main").splitlines()
    found.commits = len(history)
    found.merges = sum(len(line.split()) > 2 for line in history)
    _check_fast_forwards(remote, [line.split()[0] for line in history], found)
    _check_ledger_history(remote, made, found)
    _check_final_state(remote, made, found)
    return found


def _check_fast_forwards(remote: Path, order: list[str], found: Findings) -> None:
    position = {sha: n for n, sha in enumerate(order)}
    reflog = git("--git-dir", remote, "reflog", "show", "--format=%H", "refs/heads/main")
    updates = list(reversed(reflog.splitlines()))  # oldest first
    for old, new in itertools.pairwise(updates):
        if new not in position or old not in position or position[new] < position[old]:
            found.non_fast_forwards.append(f"{old[:12]} -> {new[:12]}")


def _check_ledger_history(remote: Path, made: list[dict[str, Any]], found: Findings) -> None:
    created = {b["id"]: b["createTime"] for b in made}
    last: dict[tuple[str, str], tuple[str, str]] = {}
    seen: set[tuple[str, str, str]] = set()
    log = subprocess.run(
        [
            "git",
            "--git-dir",
            str(remote),
            "log",
            "--reverse",
            "-p",
            "--format=commit %H",
            "main",
            "--",
            ".promoter/ledger.jsonl",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    ).stdout
    commit = ""
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1][:12]
        elif line.startswith("+{"):
            record = json.loads(line[1:])
            target = (record["path"], record["repository"])
            key = (*target, record["build"])
            found.promotions += 1
            if key in seen:
                found.duplicate_commits.append(f"{commit}: {key}")
            seen.add(key)
            now = (created[record["build"]], record["build"])
            if target in last and now < last[target]:
                found.backwards_moves.append(f"{commit}: {target} {last[target]} -> {now}")
            last[target] = now


def _check_final_state(remote: Path, made: list[dict[str, Any]], found: Findings) -> None:
    newest: dict[str, dict[str, Any]] = {}
    for b in made:
        repository = b["results"]["images"][0]["name"].rsplit(":", 1)[0]
        # All harness times share one format, so text order is time order.
        if repository not in newest or (b["createTime"], b["id"]) > (
            newest[repository]["createTime"],
            newest[repository]["id"],
        ):
            newest[repository] = b
    for repository, b in sorted(newest.items()):
        name = repository.rsplit("/", 1)[1]
        text = git("--git-dir", remote, "show", f"main:apps/{name}/deployment.yaml")
        if b["results"]["images"][0]["digest"] not in text:
            found.lost_updates.append(f"{name}: newest build {b['id']} is not what main runs")
