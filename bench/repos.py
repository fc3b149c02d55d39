"""Config repos to measure on, built with git fast-import in seconds."""

from __future__ import annotations

import subprocess
from pathlib import Path

TARGET = "europe-west1-docker.pkg.dev/bench/apps/web"
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
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    stream = bytearray()
    stamp = 1_700_000_000

    def commit(n: int, changes: list[tuple[str, str]]) -> None:
        message = f"change {n}".encode()
        stream.extend(b"commit refs/heads/main\n")
        stream.extend(b"committer bench <bench@example.com> %d +0000\n" % (stamp + n))
        stream.extend(b"data %d\n%s\n" % (len(message), message))
        for path, text in changes:
            stream.extend(f"M 100644 inline {path}\n".encode() + _blob(text))

    first = [(TARGET_PATH, _MANIFEST.format(name="web", image=TARGET))]
    for i in range(files - 1):
        name = f"svc-{i}"
        path = f"clusters/{['dev', 'staging', 'prod'][i % 3]}/{name}/deployment.yaml"
        image = f"europe-west1-docker.pkg.dev/bench/apps/{name}"
        first.append((path, _MANIFEST.format(name=name, image=image)))
    commit(0, first)
    for n in range(1, commits):
        i = n % max(1, files - 1)
        path = f"clusters/{['dev', 'staging', 'prod'][i % 3]}/svc-{i}/deployment.yaml"
        image = f"europe-west1-docker.pkg.dev/bench/apps/svc-{i}"
        text = _MANIFEST.format(name=f"svc-{i}", image=image).replace("1.0.0", f"1.0.{n}")
        commit(n, [(path, text)])
    subprocess.run(
        ["git", "--git-dir", str(bare), "fast-import", "--quiet"], input=bytes(stream), check=True
    )
    subprocess.run(["git", "--git-dir", str(bare), "gc", "-q"], check=True)
    return bare
