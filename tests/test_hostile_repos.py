"""Hostile config repos: the promoter refuses or skips what it must not touch, in bounded time
and memory, and never writes outside the repo.

Bounds asserted here (one CLI process, 2-core machine): under 20 s and under 300 MB peak RSS
for a repo holding a 30 MB manifest, an alias bomb and every other hostile file below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import WEB, build, digest_of, git, promote_argv, promote_cli, show

DEPLOYMENT = Path(__file__).parent / "data/configrepo/clusters/prod/deployment.yaml"
BOMB = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: lol
data:
  a: &a ["{WEB}", "{WEB}", "{WEB}", "{WEB}", "{WEB}", "{WEB}", "{WEB}", "{WEB}", "{WEB}"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""
CONTAINER = f"""apiVersion: v1
kind: Pod
metadata:
  name: x
spec:
  containers:
    - name: x
      image: {WEB}:1.0
"""


def hostile_repo(tmp_path: Path, outside: Path) -> Path:
    work = tmp_path / "seed"
    (work / "clusters").mkdir(parents=True)
    (work / "clusters/good.yaml").write_text(DEPLOYMENT.read_text())
    (work / "clusters/bomb.yaml").write_text(BOMB)
    (work / "clusters/huge.yaml").write_text(CONTAINER + "# pad\n" * 5_000_000)  # 30 MB
    (work / "clusters/dupkeys.yaml").write_text(CONTAINER + "      image: other\n")
    (work / "clusters/tabs.yaml").write_text(CONTAINER.replace("    - name: x", "\t- name: x"))
    (work / "clusters/latin1.yaml").write_bytes(CONTAINER.encode() + b"# caf\xe9\n")
    (work / "clusters/escape.yaml").symlink_to(outside)
    (work / f"clusters/{WEB.replace('/', '_')}.yaml").symlink_to(f"../../{outside.name}")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Seed", cwd=work)
    git("clone", "-q", "--bare", work, tmp_path / "remote.git")
    return tmp_path / "remote.git"


# A child's peak RSS counts the memory of the process it was forked from (Linux keeps the
# high-water mark across exec), so the CLI is started from a small wrapper, not from pytest.
_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdin=sys.stdin, capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr + "\\n@peak_mb=%f" % peak)
sys.exit(done.returncode)
"""


def promote_measured(
    event: dict[str, Any], remote: Path, tmp_path: Path
) -> tuple[int, str, str, float]:
    """Run the CLI; return its exit code, output, and the peak RSS of it and its git children."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            *promote_argv(remote, tmp_path / "work"),
        ],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
    )
    stderr, _, peak = done.stderr.rpartition("\n@peak_mb=")
    return done.returncode, done.stdout, stderr, float(peak)


def test_hostile_files_are_skipped_with_reasons_and_bounded(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(CONTAINER)
    remote = hostile_repo(tmp_path, outside)
    # Bounded in time by promote_measured's timeout (a blow-up would exceed it by far), not by
    # a wall-clock limit that a slow, shared machine could trip.
    code, stdout, stderr, peak_mb = promote_measured(
        build(digest=digest_of("hostile")), remote, tmp_path
    )

    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["outcome"] == "promoted"
    assert [c["path"] for c in result["changes"]] == ["clusters/good.yaml"]
    reason = result["reason"]
    for name, why in [
        ("huge.yaml", "larger than"),
        ("latin1.yaml", "not UTF-8"),
        ("dupkeys.yaml", "duplicate key"),
        ("tabs.yaml", "tabs.yaml: line"),
    ]:
        assert f"clusters/{name}" in reason and why in reason, (name, reason)
    assert "escape.yaml" not in reason  # a symlink is never read, so never reported
    assert outside.read_text() == CONTAINER  # nothing written through the link
    assert git("--git-dir", remote, "ls-tree", "main", "clusters/escape.yaml").startswith("120000")
    assert show(remote, "clusters/bomb.yaml") == BOMB.rstrip("\n")
    assert peak_mb < 300, peak_mb


def test_policy_paths_that_escape_are_refused(tmp_path: Path, make_config_repo) -> None:
    remote = make_config_repo(
        {"promoter.yaml": f"images:\n  - repository: {WEB}\n    paths: ['../../**']\n"}
    )
    done = promote_cli(build(), str(remote), str(tmp_path / "work"))
    assert done.returncode == 2
    assert "promoter.yaml" in done.stderr and "inside the repo" in done.stderr


def test_policy_path_option_cannot_leave_the_repo(tmp_path: Path, make_config_repo) -> None:
    for policy in ["../promoter.yaml", "/etc/passwd"]:
        done = promote_cli(
            build(), str(make_config_repo()), str(tmp_path / "w"), "--policy", policy
        )
        assert done.returncode == 2 and "policy" in done.stderr
