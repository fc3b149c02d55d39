"""The dev -> prod config repo that the promote-env and event chain tests promote between."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import build, digest_of, promote_cli, tip

DEV = "clusters/dev/deployment.yaml"
PROD = "clusters/prod/deployment.yaml"
POLICY = """\
environments:
  - name: dev
    paths: ["clusters/dev/**"]
  - name: prod
    paths: ["clusters/prod/**"]
    from: dev
{extra}"""


def dev_prod_repo(make_config_repo: Any, extra: str = "") -> Path:
    """A config repo whose promoter.yaml lists dev and prod; `extra`: lines after prod's."""
    remote: Path = make_config_repo({"promoter.yaml": POLICY.format(extra=extra)})
    return remote


def promoted_in_dev(remote: Path, workdir: Path, n: int) -> str:
    """Build b`n` (digest_of(n)) promoted into dev by `promoter promote`: its commit."""
    event = build(create_time=f"2026-03-02T09:{n:02}:00Z", digest=digest_of(n), build_id=f"b{n}")
    done = promote_cli(event, remote, workdir)
    assert json.loads(done.stdout)["outcome"] == "promoted", done.stdout + done.stderr
    return tip(remote)
