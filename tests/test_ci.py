"""The CI cannot go green over a gap: it runs the README's test command, and the suite fails a
test that leaves a process behind, loses an exception in a thread, or skips the emulator where
gcloud exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import DATA, ROOT

GUARDS = DATA / "guards"


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("Run the whole test suite", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S)[1].strip()  # type: ignore[index]


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    [assigned] = re.findall(r'^TEST_COMMAND="(.+)"$', script, re.M)
    assert assigned == readme_test_command()
    assert re.search(r'^eval "\$\{TEST_COMMAND\}"$', script, re.M)
    assert "pytest" not in script.replace(assigned, "")  # no other way of running the tests


def run_guard(name: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(GUARDS / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_test_that_leaves_a_process_running_fails_and_the_process_is_ended():
    done = run_guard("leaves_a_process.py")
    assert done.returncode == 1, done.stdout
    assert "processes left running after the test (now killed)" in done.stdout
    assert "sleep 60" in done.stdout


def test_an_exception_in_a_test_thread_fails_the_test():
    done = run_guard("raises_in_a_thread.py")
    assert done.returncode == 1, done.stdout
    assert "lost in a thread" in done.stdout


def test_a_skipped_emulator_test_fails_where_gcloud_exists(tmp_path: Path):
    # Whether or not this machine has gcloud, put one first on PATH: the guard only asks
    # whether the command exists.
    fake = tmp_path / "bin" / "gcloud"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    done = run_guard("skips_the_emulator.py", f"{fake.parent}:{os.environ['PATH']}")
    assert done.returncode == 1, done.stdout
    assert "skipped although gcloud exists" in done.stdout


def test_every_pure_module_has_a_mutation_run_in_the_default_list():
    """docs/TESTING.md's scores cover the pure core as it grows: a new module gets its config."""
    from .test_layers import PURE

    default = re.search(r"\|\| modules=\(([^)]*)\)", (ROOT / ".ci/mutate").read_text())
    assert default is not None
    listed = default.group(1).split()
    configs = {path.stem for path in (ROOT / ".ci/mutation").glob("*.toml")} - {"common"}
    pure = set(PURE) - {"errors"}  # exception classes only: nothing to mutate
    assert pure <= configs, sorted(pure - configs)
    whole = {name for name in configs if not name.endswith("-unit")}  # -unit: run by name
    assert whole <= set(listed), sorted(whole - set(listed))
    for module in configs:
        config = (ROOT / ".ci/mutation" / f"{module}.toml").read_text()
        target = re.search(r'module-path = "promoter/(\w+)\.py"', config)
        assert target is not None and target.group(1) == module.removesuffix("-unit"), module
