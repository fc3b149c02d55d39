"""The newcomer's loop: `promoter dev` then `promoter simulate` gives a commit in seconds."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import free_port, git, show

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="via-emulator-where-gcloud-is"),
        pytest.param(["--no-emulator"], id="direct-post"),
    ],
)
def test_dev_loop_promotes_a_simulated_build_into_the_dev_overlay(tmp_path, flags):
    home, port = tmp_path / "dev", free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "promoter", "dev", "--home", str(home), "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (home / "state.json").exists():
            assert dev.poll() is None and time.monotonic() < deadline, "promoter dev did not start"
            time.sleep(0.1)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "promoter",
                "simulate",
                "--home",
                str(home),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        dev.send_signal(signal.SIGTERM)
        output, _ = dev.communicate(timeout=30)

    assert done.returncode == 0, done.stderr
    assert "Build-Id:" in done.stdout
    posted = bool(flags) or shutil.which("gcloud") is None
    assert ("no emulator" in done.stdout) == posted
    repo = home / "config.git"
    overlay = show(repo, "manifests/overlays/dev/kustomization.yaml")
    assert overlay != show(repo, "manifests/overlays/dev/kustomization.yaml", rev="main~1")
    assert (
        show(repo, "manifests/overlays/prod/kustomization.yaml")
        == (ROOT / "manifests/overlays/prod/kustomization.yaml").read_text().strip()
    )
    assert "promoted" in output and dev.returncode == 0
    assert git("--git-dir", repo, "rev-list", "--count", "main") == "2"
