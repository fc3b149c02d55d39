"""The mutants issue 8 found surviving, each applied to a copy of the working tree with the tests
that must now catch it: `python .ci/mutation/listed.py [NAME-PART ...]`. Exit 1 if one survives.

cosmic-ray (.ci/mutate) mutates operators and constants; these are one-line changes of meaning
(a setting ignored, a call's argument dropped) that it does not make.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = [
    "tests/test_settings.py",
    "tests/test_worker.py",
    "tests/test_plan.py",
    "tests/test_credentials.py",
]
# (name, file, text, replacement): the text occurs exactly once in the file.
MUTANTS = [
    (
        "PROMOTER_BRANCH ignored",
        "promoter/settings.py",
        'branch or environ.get("PROMOTER_BRANCH") or "main"',
        'branch or "main"',
    ),
    (
        "PROMOTER_POLICY ignored",
        "promoter/settings.py",
        'policy or environ.get("PROMOTER_POLICY") or DEFAULT_PATH',
        "policy or DEFAULT_PATH",
    ),
    (
        "PROMOTER_SKIP_CI ignored",
        "promoter/settings.py",
        'skip_ci=environ.get("PROMOTER_SKIP_CI", "true").lower() not in ("0", "false", "no"),',
        "skip_ci=True,",
    ),
    (
        "PROMOTER_GIT_AUTHOR_NAME ignored",
        "promoter/settings.py",
        'environ.get("PROMOTER_GIT_AUTHOR_NAME") or Identity.name',
        "Identity.name",
    ),
    (
        "push always to main",
        "promoter/gittransport.py",
        'dest = f"{commit}:refs/heads/{self.remote.branch}"',
        'dest = f"{commit}:refs/heads/main"',
    ),
    ("listen exits 0 on a failed stream", "promoter/worker.py", "return 75\n", "return 0\n"),
    (
        "listen stops awaiting callbacks",
        "promoter/worker.py",
        "await_callbacks_on_shutdown=True",
        "await_callbacks_on_shutdown=False",
    ),
    ("ledger unsorted", "promoter/ledger.py", "in sorted(self.records)", "in self.records"),
    (
        "git stderr not redacted",
        "promoter/remote.py",
        "return self.redact(message)",
        "return message",
    ),
]


def copy_tree(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name.decode())


def survives(name: str, path: str, text: str, replacement: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="promoter-listed-") as tmp:
        copy = Path(tmp)
        copy_tree(copy)
        source = (copy / path).read_text()
        if source.count(text) != 1:
            sys.exit(f"{name}: {text!r} is not in {path} exactly once; update this list")
        (copy / path).write_text(source.replace(text, replacement))
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
        )
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    print(f"{'survived' if done.returncode == 0 else 'caught':<9} {name}: {' '.join(failed[:1])}")
    return done.returncode == 0


def main(parts: list[str]) -> int:
    chosen = [m for m in MUTANTS if not parts or any(p in m[0] for p in parts)]
    survivors = [m[0] for m in chosen if survives(*m)]
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
