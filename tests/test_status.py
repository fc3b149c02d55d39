"""`promoter status` and the `requireHealthy` gate: git's side from real repos, Argo CD's from
tests/kube_fake.py (the Kubernetes API's paths and JSON, every Application checked against the
CRD) reached through the real kubernetes client and a real kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promoter.devloop import free_port

from .conftest import WEB, build, count_commits, digest_of, git, promote_cli, tip
from .kube_fake import KubeFake, application, serving, write_kubeconfig

TOKEN = "status-token-51a2"
POLICY = """\
environments:
  - name: dev
    paths: ["clusters/dev/**"]
    argocd: {{app: web-dev, namespace: argocd}}
  - name: prod
    paths: ["clusters/prod/**"]
    argocd: {{app: web-prod}}
    from: dev
{extra}"""
ROW_KEYS = {
    "environment", "image", "digest", "build_id", "commit", "sync", "health", "syncedRevision",
    "inSync", "state",
}  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeFake, Path]]:
    """The fake API server (started empty) and a kubeconfig reaching it."""
    with serving(token=TOKEN) as fake:
        yield fake, write_kubeconfig(tmp_path / "kubeconfig", server=fake.url, token=TOKEN)


def cli(*args: str | Path, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [sys.executable, "-m", "promoter", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def setup(make_config_repo: Any, tmp_path: Path, extra: str = "") -> tuple[Path, str]:
    remote: Path = make_config_repo({"promoter.yaml": POLICY.format(extra=extra)})
    event = build(digest=digest_of(1), build_id="b1")
    assert json.loads(promote_cli(event, remote, tmp_path / "w").stdout)["outcome"] == "promoted"
    return remote, tip(remote)


def status(remote: Path, tmp_path: Path, kubeconfig: Path, *extra: str) -> list[dict[str, Any]]:
    done = cli(
        "status", "--repo", remote, "--workdir", tmp_path / "s", "--json", *extra,
        kubeconfig=kubeconfig,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_status_shows_promoted_not_yet_synced_then_synced(make_config_repo, tmp_path, cluster):
    fake, kubeconfig = cluster
    remote, dev_commit = setup(make_config_repo, tmp_path)
    seed = git("--git-dir", remote, "rev-list", "--max-parents=0", "main")
    fake.put(application("web-dev", revision=seed))
    fake.put(application("web-prod", revision=seed))
    dev, prod = status(remote, tmp_path, kubeconfig)
    assert set(dev) == ROW_KEYS
    assert (dev["environment"], dev["image"], dev["digest"]) == ("dev", WEB, digest_of(1))
    assert (dev["build_id"], dev["commit"], dev["syncedRevision"]) == ("b1", dev_commit, seed)
    assert (dev["sync"], dev["health"], dev["inSync"]) == ("Synced", "Healthy", False)
    assert dev["state"] == "promoted, not yet synced"
    assert (prod["environment"], prod["digest"], prod["commit"], prod["inSync"]) == (
        "prod",
        None,
        None,
        None,
    )
    assert prod["state"] == "nothing promoted"
    # Argo CD syncs the promotion commit (or any later one): in sync.
    fake.put(application("web-dev", revision=tip(remote)))
    [dev] = status(remote, tmp_path, kubeconfig, "--env", "dev")
    assert (dev["inSync"], dev["state"]) == (True, "synced")
    table = cli("status", "--repo", remote, "--workdir", tmp_path / "s", kubeconfig=kubeconfig)
    assert table.returncode == 0 and "promoted, not yet synced" not in table.stdout
    assert table.stdout.splitlines()[0].split()[:3] == ["ENV", "IMAGE", "DIGEST"]


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ({"sync": "OutOfSync"}, "Argo CD app web-dev is OutOfSync, not Synced"),
        ({"health": "Degraded"}, "Argo CD app web-dev is Degraded, not Healthy"),
        ({"revision": "seed"}, "which does not hold"),
    ],
)
def test_require_healthy_refuses_until_dev_runs_the_commit(
    make_config_repo, tmp_path, cluster, app, expected
):
    fake, kubeconfig = cluster
    remote, dev_commit = setup(make_config_repo, tmp_path, "    requireHealthy: true\n")
    seed = git("--git-dir", remote, "rev-list", "--max-parents=0", "main")
    revision = seed if app.get("revision") == "seed" else dev_commit
    fake.put(application("web-dev", **{**app, "revision": revision}))
    before = count_commits(remote)
    args = ["promote-env", "--repo", remote, "--workdir", tmp_path / "o", "--to", "prod"]
    done = cli(*args, kubeconfig=kubeconfig)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith(f"promoter: not promoted to prod: healthy: {WEB}: ")
    assert expected in done.stderr and count_commits(remote) == before
    forced = cli(*args, "--force", kubeconfig=kubeconfig)
    assert forced.returncode == 0, forced.stderr
    assert "Forced: healthy" in git("--git-dir", remote, "log", "-1", "--format=%B")


def test_require_healthy_promotes_once_dev_is_synced_and_healthy(
    make_config_repo, tmp_path, cluster
):
    fake, kubeconfig = cluster
    remote, dev_commit = setup(make_config_repo, tmp_path, "    requireHealthy: true\n")
    fake.put(application("web-dev", revision=dev_commit))
    args = ["promote-env", "--repo", remote, "--workdir", tmp_path / "o", "--to", "prod"]
    done = cli(*args, kubeconfig=kubeconfig)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "promoted"
    # Argo CD unreachable: transient (exit 75), never "no gate".
    nowhere = write_kubeconfig(tmp_path / "nowhere", server=f"http://127.0.0.1:{free_port()}",
                               token=TOKEN)  # fmt: skip
    unreachable = cli(*args, "--force", kubeconfig=nowhere)
    assert (unreachable.returncode, unreachable.stdout) == (75, "")
    assert unreachable.stderr.startswith("promoter: temporary failure, try again:")


def test_status_of_an_unknown_environment_exits_2(make_config_repo, tmp_path, cluster):
    _, kubeconfig = cluster
    remote, _ = setup(make_config_repo, tmp_path)
    done = cli("status", "--repo", remote, "--workdir", tmp_path / "s", "--env", "qa",
               kubeconfig=kubeconfig)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "promoter: error: --env: no environment 'qa' (known: dev, prod)\n"
