"""The local loop: a bare config repo, the function on localhost, the emulator where gcloud is."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "promoter-dev"
DEFAULT_SEED = PROJECT_ROOT / "manifests"
DEFAULT_PORT = 8080
DEFAULT_IMAGE = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
EMULATOR_PROJECT = "promoter-dev"


def run_dev(*, home: Path, port: int, seed: Path, emulator: bool = True) -> int:
    """Start everything, print where to look, and run until interrupted."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop on SIGTERM as on Ctrl-C
    home.mkdir(parents=True, exist_ok=True)
    repo = seed_config_repo(home / "config.git", seed)
    children = [start_function(port=port, repo=repo, workdir=home / "work")]
    state: dict[str, object] = {"repo": str(repo), "port": port}
    if emulator and shutil.which("gcloud"):
        host, emulator_process = start_emulator()
        children.append(emulator_process)
        state |= {"emulator": host, "topic": connect_emulator(host, port)}
    (home / "state.json").write_text(json.dumps(state))
    _explain(state)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the dev loop", flush=True)
    finally:
        for child in children:
            os.killpg(child.pid, signal.SIGTERM)  # the emulator runs java under gcloud
    return 0


def seed_config_repo(bare: Path, seed: Path) -> Path:
    """Create a bare config repo with `seed` as `manifests/` (and its promoter.yaml) once."""
    if (bare / "HEAD").exists():
        return bare
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(seed, work / "manifests")
        policy = seed.parent / "promoter.yaml"
        if policy.exists():
            shutil.copy(policy, work / "promoter.yaml")
        git = [
            "git",
            "-C",
            str(work),
            "-c",
            "user.name=promoter-dev",
            "-c",
            "user.email=dev@localhost",
        ]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "Seed config repo"], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def function_command(port: int, target: str = "on_build_event") -> list[str]:
    """functions-framework serving this checkout's `target` on 127.0.0.1:`port`."""
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(PROJECT_ROOT / "promoter" / "main.py"),
        "--target",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def start_function(*, port: int, repo: Path, workdir: Path) -> subprocess.Popen[bytes]:
    """Serve `on_build_event` on localhost:`port` with functions-framework."""
    env = {**os.environ, "PROMOTER_REPO_URL": str(repo), "PROMOTER_WORKDIR": str(workdir)}
    command = function_command(port)
    child = subprocess.Popen(command, env=env, start_new_session=True)
    wait_for_port(port)
    return child


def start_emulator() -> tuple[str, subprocess.Popen[bytes]]:
    """Start the Pub/Sub emulator on a free loopback port; return its host:port."""
    port = free_port()
    host = f"127.0.0.1:{port}"
    command = [
        "gcloud",
        "beta",
        "emulators",
        "pubsub",
        "start",
        f"--project={EMULATOR_PROJECT}",
        f"--host-port={host}",
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_for_port(port, timeout=60)
    return host, child


def connect_emulator(host: str, port: int) -> str:
    """Topic cloud-builds with a push subscription to the function; returns the topic path."""
    from promoter.pubsub import ensure_subscription

    os.environ["PUBSUB_EMULATOR_HOST"] = host
    return ensure_subscription(EMULATOR_PROJECT, "promoter-push", f"http://127.0.0.1:{port}/")


def simulated_build(image: str, *, branch: str = "main") -> dict[str, object]:
    """A realistic successful Build resource for `image` with a fresh digest."""
    build_id, sha = str(uuid.uuid4()), secrets.token_hex(20)
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {
        "id": build_id,
        "projectId": "demo-shop",
        "status": "SUCCESS",
        "createTime": now,
        "finishTime": now,
        "images": [f"{image}:{sha[:7]}"],
        "results": {
            "images": [{"name": f"{image}:{sha[:7]}", "digest": f"sha256:{secrets.token_hex(32)}"}]
        },
        "substitutions": {
            "BRANCH_NAME": branch,
            "COMMIT_SHA": sha,
            "SHORT_SHA": sha[:7],
            "REPO_NAME": "demo-shop",
            "TRIGGER_NAME": "web-main",
        },
        "logUrl": f"https://console.cloud.google.com/cloud-build/builds/{build_id}?project=demo-shop",
    }


def simulate(*, home: Path, image: str | None, port: int) -> int:
    """Publish (or post) a simulated build and show the commit it produced."""
    state = json.loads((home / "state.json").read_text())
    repo = Path(state["repo"])
    before = _tip(repo)
    build = simulated_build(image or DEFAULT_IMAGE)
    data = json.dumps(build).encode()
    if "emulator" in state:
        from promoter.pubsub import publish

        os.environ["PUBSUB_EMULATOR_HOST"] = state["emulator"]
        print(f"published build {build['id']} to {state['topic']} (emulator {state['emulator']})")
        publish(state["topic"], data, buildId=str(build["id"]), status="SUCCESS")
    else:
        _post(int(state.get("port", port)), data)
        print(f"posted build {build['id']} to http://127.0.0.1:{port}/ (no emulator)")
    return _await_commit(repo, before)


def _post(port: int, data: bytes) -> None:
    import urllib.request

    body = {
        "message": {"data": base64.b64encode(data).decode(), "messageId": str(uuid.uuid4())},
        "subscription": f"projects/{EMULATOR_PROJECT}/subscriptions/promoter-push",
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=60).read()


def _await_commit(repo: Path, before: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _tip(repo) != before:
            log = subprocess.run(
                ["git", "-C", str(repo), "log", "-1", "--stat", "main"],
                capture_output=True,
                text=True,
            )
            print(log.stdout)
            return 0
        time.sleep(0.1)
    print(
        f"no new commit on {repo} within {timeout:.0f} s; see the function's log", file=sys.stderr
    )
    return 1


def _tip(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()


def _explain(state: dict[str, object]) -> None:
    via = (
        f"the Pub/Sub emulator at {state['emulator']}"
        if "emulator" in state
        else "direct HTTP posts (no gcloud: no emulator)"
    )
    print(
        f"promoter dev loop is running\n"
        f"  config repo : {state['repo']}  (git --git-dir {state['repo']} log --format=fuller)\n"
        f"  function    : http://127.0.0.1:{state['port']}/ (target on_build_event)\n"
        f"  events via  : {via}\n"
        f"Send a build:   promoter simulate\n"
        f"Stop with Ctrl-C.",
        flush=True,
    )


def wait_for_port(port: int, timeout: float = 20) -> None:
    """Block until something listens on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def free_port() -> int:
    """A TCP port that is free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
