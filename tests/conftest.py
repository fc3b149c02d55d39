"""Fixtures: real bare git repos, build payloads, and the CLI as a user runs it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from promoter.devloop import free_port as free_port  # re-exported for the test modules
from promoter.devloop import function_command, wait_for_port

# Every process a test starts inherits this variable (children of children too), so that what
# a test leaves running can be found, reported and ended, whoever its parent is now.
TEST_MARK = "PROMOTER_TEST_PROCESS"
LEFTOVER_GRACE_SECONDS = 10.0

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
FAULTS = Path(__file__).resolve().parent / "faults"


def bug_env(trigger: Path) -> dict[str, str]:
    """Environment for a promoter process that hits a bug of ours while `trigger` exists
    (see tests/faults/sitecustomize.py)."""
    path = os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "PROMOTER_TEST_BUG": str(trigger)}


WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
WORKER = "europe-west1-docker.pkg.dev/demo-shop/apps/web-worker"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}


def git(*args: str | Path, cwd: Path | None = None) -> str:
    """Run real git and return its stripped stdout."""
    done = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def deployment(image: str, name: str = "web") -> str:
    """A Deployment with one container running `image`."""
    return (
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
        f"      containers:\n        - name: {name}\n          image: {image}\n"
    )


def digest_of(seed: object) -> str:
    """A real-looking, distinct sha256 digest for `seed`."""
    return "sha256:" + hashlib.sha256(str(seed).encode()).hexdigest()


def build(
    *,
    build_id: str | None = None,
    image: str = WEB,
    digest: str | None = None,
    tag: str = "4be1a9c",
    create_time: str = "2026-03-02T09:10:51.402118Z",
    status: str = "SUCCESS",
    branch: str | None = "main",
    images: list[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """A Build resource from tests/data/builds/success-template.json with fields replaced."""
    body: dict[str, Any] = json.loads((DATA / "builds" / "success-template.json").read_text())
    body["id"] = build_id or str(uuid.uuid4())
    body["status"] = status
    body["createTime"] = create_time
    listed = images or [(image, tag, digest or digest_of(body["id"]))]
    body["images"] = [f"{name}:{t}" for name, t, _ in listed]
    body["results"]["images"] = [{"name": f"{name}:{t}", "digest": d} for name, t, d in listed]
    if branch is None:
        del body["substitutions"]["BRANCH_NAME"]
    else:
        body["substitutions"]["BRANCH_NAME"] = branch
    return body


def tip(bare: Path, branch: str = "main") -> str:
    return git("--git-dir", bare, "rev-parse", branch)


def show(bare: Path, path: str, rev: str = "main") -> str:
    return git("--git-dir", bare, "show", f"{rev}:{path}")


def revert(bare: Path, commit: str, clone: Path) -> None:
    """What a person rolling back does: revert `commit` in a clone and push it to main."""
    git("clone", "-q", bare, clone)
    git("revert", "--no-edit", commit, cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)


def count_commits(bare: Path, branch: str = "main") -> int:
    return int(git("--git-dir", bare, "rev-list", "--count", branch))


@pytest.fixture
def make_config_repo(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a bare repo seeded from tests/data/configrepo plus `files`."""
    made = iter(range(1000))

    def make(
        files: dict[str, str] | None = None, *, source: Path | None = DATA / "configrepo"
    ) -> Path:
        n = next(made)
        work = tmp_path / f"seed-{n}"
        if source is not None:
            shutil.copytree(source, work)
        work.mkdir(exist_ok=True)
        for path, text in (files or {}).items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        git("init", "-q", "-b", "main", cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Seed", cwd=work)
        bare = tmp_path / f"remote-{n}.git"
        git("clone", "-q", "--bare", work, bare)
        return bare

    return make


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "workdir"


def run_cli(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI exactly as a user runs it: a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "promoter", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def promote_argv(repo: str | Path, workdir: str | Path, *extra: str) -> list[str]:
    """The command line of `promoter promote --event -`, run by this interpreter."""
    return [
        sys.executable,
        "-m",
        "promoter",
        "promote",
        "--event",
        "-",
        "--repo",
        str(repo),
        "--workdir",
        str(workdir),
        *extra,
    ]


def promote_cli(
    event: object,
    repo: str | Path,
    workdir: str | Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`promoter promote --event -` in its own process; `event` is JSON-encoded unless text."""
    return subprocess.run(
        promote_argv(str(repo), str(workdir), *extra),
        input=event if isinstance(event, str) else json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


class GitDaemon:
    """`git daemon` on a fixed loopback port, which a fault injector can stop and start.

    Use it as a context manager, so that a failing test stops it too.
    """

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.process: subprocess.Popen[bytes] | None = None
        self.stale_locks_cleared = 0

    def __enter__(self) -> GitDaemon:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, bare: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{bare.relative_to(self.root)}"

    def start(self) -> None:
        # A server killed mid-push leaves the ref's lock file behind. A real git host clears
        # stale locks when it starts again (nothing of its own can hold them then): so do we.
        for served in self.root.glob("*.git"):
            for stale in [*served.glob("*.lock"), *served.glob("refs/**/*.lock")]:
                stale.unlink(missing_ok=True)
                self.stale_locks_cleared += 1
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--export-all",
                "--enable=receive-pack",
                "--reuseaddr",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.root}",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)

    @contextlib.contextmanager
    def hung(self) -> Iterator[None]:
        """Within: the server accepts connections and never answers (every process of it is
        stopped, connections in flight included); after: it goes on."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            # `git daemon` runs git-daemon as a child: stop the whole group, connections included.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[Callable[[Path], str]]:
    """Serve bare repos over git:// on loopback; returns a function giving a repo's URL."""
    with GitDaemon(tmp_path, free_port()) as daemon:
        daemon.start()
        yield daemon.url


class HungRemote:
    """A loopback TCP server that accepts every connection and never answers: a remote that hangs.

    Use it as a context manager; `connections` counts what reached it.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> HungRemote:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()
        for connection in self._open:
            connection.close()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/config.git"

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self._listener.accept()
                self._open.append(connection)  # kept open, never read from or written to
                self.connections += 1


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log

    def log_lines(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture
def function_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: `functions-framework` serving on_build_event for a config repo URL."""
    children: list[subprocess.Popen[bytes]] = []

    def start(repo: Path | str, *, target: str = "on_build_event", **env: str) -> Server:
        port = free_port()
        log = tmp_path / f"function-{port}.log"
        environ = {
            **os.environ,
            "PROMOTER_REPO_URL": str(repo),
            "PROMOTER_WORKDIR": str(tmp_path / "fw"),
            **env,
        }
        command = function_command(port, target)
        with open(log, "wb") as out:
            children.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
                )
            )
        wait_for_port(port)
        return Server(f"http://127.0.0.1:{port}/", log)

    yield start
    for child in children:
        child.terminate()
        child.wait(timeout=10)


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    """The emulator's host:port: the one .ci/run started, or one started here."""
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        yield os.environ["PUBSUB_EMULATOR_HOST"]
        return
    if shutil.which("gcloud") is None:
        pytest.skip("gcloud is not installed: no Pub/Sub emulator on this machine")
    port = free_port()
    host = f"127.0.0.1:{port}"
    child = subprocess.Popen(
        [
            "gcloud",
            "beta",
            "emulators",
            "pubsub",
            "start",
            "--project=promoter-test",
            f"--host-port={host}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != TEST_MARK},  # it outlives the test
    )
    wait_for_port(port, timeout=90)
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    yield host
    os.killpg(child.pid, 15)
    child.wait(timeout=30)
    del os.environ["PUBSUB_EMULATOR_HOST"]


def marked_processes(mark: str) -> list[tuple[int, str]]:
    """Live processes (pid, command line) whose environment holds TEST_MARK=`mark`."""
    needle = f"{TEST_MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone, or a zombie whose memory is released
        if command:
            found.append((int(entry.name), command.strip()))
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a process running, and end what it left."""
    mark = uuid.uuid4().hex
    os.environ[TEST_MARK] = mark
    yield
    del os.environ[TEST_MARK]
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if left:
        listed = "; ".join(f"{pid}: {command[:120]}" for pid, command in left)
        pytest.fail(f"processes left running after the test (now killed): {listed}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Where gcloud exists, a skipped emulator test is a failure: CI must not go green over it."""
    report = yield
    needs_emulator = item.get_closest_marker("emulator") or "emulator" in getattr(
        item, "fixturenames", ()
    )
    if report.skipped and needs_emulator and shutil.which("gcloud"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped although gcloud exists ({report.longrepr})"
    return report
