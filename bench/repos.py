"""Config repos to measure on, built with git fast-import in seconds."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "europe-west1-docker.pkg.dev/bench/apps"
TARGET = f"{REGISTRY}/web"
TARGET_PATH = "clusters/dev/web/deployment.yaml"

_MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image}:1.0.0  # promoted
"""


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n" % len(data) + data + b"\n"


def build_repo(root: Path, *, files: int, commits: int) -> Path:
    """A bare repo with `files` manifests (one naming TARGET) and `commits` commits."""
    bare = root / f"config-{files}f-{commits}c.git"
    if bare.exists():
        return bare
    first = [(TARGET_PATH, _MANIFEST.format(name="web", image=TARGET))]
    for i in range(files - 1):
        first.append((service_path(i), _service_manifest(i)))
    history = [first]
    for n in range(1, commits):
        i = n % max(1, files - 1)
        history.append([(service_path(i), _service_manifest(i).replace("1.0.0", f"1.0.{n}"))])
    import_history(bare, history)
    return bare


def import_history(
    bare: Path, history: Iterable[list[tuple[str, str]]], messages: Sequence[str] = ()
) -> None:
    """Create `bare` with one commit on main per item of `history`: (path, new text) pairs,
    with the message of the same index in `messages` (default: `change N`)."""
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    stream = bytearray()
    stamp = 1_700_000_000
    for n, changes in enumerate(history):
        message = (messages[n] if n < len(messages) else f"change {n}").encode()
        stream.extend(b"commit refs/heads/main\n")
        stream.extend(b"committer bench <bench@example.com> %d +0000\n" % (stamp + n))
        stream.extend(b"data %d\n%s\n" % (len(message), message))
        for path, text in changes:
            stream.extend(f"M 100644 inline {path}\n".encode() + _blob(text))
    subprocess.run(
        ["git", "--git-dir", str(bare), "fast-import", "--quiet"], input=bytes(stream), check=True
    )
    subprocess.run(["git", "--git-dir", str(bare), "gc", "-q"], check=True)


def _service_manifest(i: int) -> str:
    return _MANIFEST.format(name=f"svc-{i:04d}", image=service_image(i))


def service_image(i: int) -> str:
    """The image repository of the i-th generated service."""
    return f"{REGISTRY}/svc-{i:04d}"


def service_path(i: int) -> str:
    """The manifest of the i-th generated service (the only file naming its image)."""
    return f"clusters/{['dev', 'staging', 'prod'][i % 3]}/svc-{i:04d}/deployment.yaml"


def fresh_copy(remote: Path, into: Path) -> Path:
    """A private copy of a generated repo, so scenarios do not share history."""
    into.mkdir(parents=True, exist_ok=True)
    copy = into / remote.name
    shutil.copytree(remote, copy)
    return copy


def tip(bare: Path, branch: str = "main") -> str:
    """The branch's commit id in a bare repo, read as git itself would."""
    done = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", branch],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()
