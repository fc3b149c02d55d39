"""Reading Argo CD's word through the real kubernetes client, a real kubeconfig and a real socket.

The API server is tests/kube_fake.py: the Kubernetes API's paths, JSON and `Status` errors, with
every Application checked against Argo CD's CRD. Without the CRDs these tests skip, saying so.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promoter.argocd import ApplicationReader, ClusterAccess
from promoter.errors import ClusterUnavailable, ConfigError, TransientError

from .kube_fake import Fault, FixtureRejected, KubeFake, application, serving, write_kubeconfig

TOKEN = "kube-fake-token-3c1f"
DEADLINE = 1.0  # seconds per request in these tests
SLACK = 4.0  # a loaded machine
SHA = "4be1a9c2d0e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4"
OLD = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
ARGOCD_MODULE = Path(__file__).resolve().parents[1] / "promoter" / "argocd.py"

Start = Callable[..., tuple[KubeFake, ApplicationReader]]


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """The fake's server and request threads end with the test that started them."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert left == [], f"threads left running: {left}"


@pytest.fixture
def argo(tmp_path: Path) -> Iterator[Start]:
    """Factory: a fake API server holding `apps` and a reader reaching it through a kubeconfig."""
    with contextlib.ExitStack() as stack:

        def start(
            *apps: dict[str, object], token: str = TOKEN, timeout: float = DEADLINE
        ) -> tuple[KubeFake, ApplicationReader]:
            fake = stack.enter_context(serving(*apps, token=TOKEN))
            config = tmp_path / f"kubeconfig-{len(list(tmp_path.iterdir()))}"
            write_kubeconfig(config, server=fake.url, token=token)
            access = ClusterAccess.from_environ({"KUBECONFIG": str(config)}, timeout=timeout)
            return fake, stack.enter_context(ApplicationReader.connect(access))

        yield start


# --- what Argo CD says ---------------------------------------------------------------------


def test_a_synced_healthy_application(argo: Start) -> None:
    _, reader = argo(application("web-dev", revision=SHA), application("web-prod"))
    status = reader.get("web-dev", "argocd")
    assert (status.name, status.namespace) == ("web-dev", "argocd")
    assert (status.sync, status.health, status.operation) == ("Synced", "Healthy", "Succeeded")
    assert status.revision == SHA and status.revisions == ()
    assert status.synced_at == datetime(2026, 3, 2, 9, 12, 40, tzinfo=UTC)
    assert status.reconciled_at == datetime(2026, 3, 2, 9, 15, 2, tzinfo=UTC)


def test_an_application_still_syncing(argo: Start) -> None:
    syncing = application("web-dev", sync="OutOfSync", health="Progressing", phase="Running")
    _, reader = argo(syncing)
    status = reader.get("web-dev", "argocd")
    assert (status.sync, status.health, status.operation) == ("OutOfSync", "Progressing", "Running")


def test_a_degraded_application_after_a_failed_sync(argo: Start) -> None:
    _, reader = argo(application("web-dev", health="Degraded", phase="Failed", revision=OLD))
    status = reader.get("web-dev", "argocd")
    assert (status.sync, status.health, status.operation) == ("Synced", "Degraded", "Failed")
    assert status.revision == OLD


def test_an_application_never_synced_has_no_operation(argo: Start) -> None:
    _, reader = argo(application("web-dev", sync="Unknown", health="Missing", phase=None))
    status = reader.get("web-dev", "argocd")
    assert (status.sync, status.health, status.operation, status.synced_at) == (
        "Unknown",
        "Missing",
        None,
        None,
    )


def test_a_multi_source_application_reads_its_first_source_revision(argo: Start) -> None:
    sources = [
        {"repoURL": "https://github.com/demo-shop/shop.git", "path": "overlays/dev"},
        {"repoURL": "https://github.com/demo-shop/values.git", "ref": "values"},
    ]
    _, reader = argo(application("web-dev", sources=sources, revision=SHA))
    status = reader.get("web-dev", "argocd")
    assert status.revisions == (SHA, SHA)
    assert status.revision == SHA


def test_list_reads_one_namespace(argo: Start) -> None:
    _, reader = argo(
        application("web-dev", labels={"env": "dev"}),
        application("web-prod", health="Progressing", labels={"env": "prod"}),
        application("web-dev", namespace="argocd-other"),
    )
    listed = reader.list("argocd")
    assert [(s.name, s.namespace, s.health) for s in listed] == [
        ("web-dev", "argocd", "Healthy"),
        ("web-prod", "argocd", "Progressing"),
    ]
    assert [s.name for s in reader.list("argocd", label_selector="env=prod")] == ["web-prod"]
    assert [s.name for s in reader.list("argocd", label_selector="env!=prod")] == ["web-dev"]
    assert reader.list("nowhere") == []


def test_watch_sees_what_exists_then_each_change(argo: Start) -> None:
    fake, reader = argo(application("web-dev", health="Progressing", phase="Running"))
    events = reader.watch("argocd", seconds=10)
    try:
        kind, first = next(events)
        assert (kind, first.health) == ("ADDED", "Progressing")
        fake.put(application("web-dev", revision=SHA))
        kind, second = next(events)
        assert (kind, second.health, second.revision) == ("MODIFIED", "Healthy", SHA)
    finally:
        events.close()


def test_a_quiet_watch_ends_when_its_seconds_are_up(argo: Start) -> None:
    _, reader = argo(application("web-dev"), timeout=DEADLINE)
    started = time.monotonic()
    seen = list(reader.watch("argocd", seconds=2))
    took = time.monotonic() - started
    assert [(kind, s.name) for kind, s in seen] == [("ADDED", "web-dev")]
    assert 2 <= took < 2 + SLACK  # the server's timeoutSeconds, not the request's read deadline


def test_only_reads_reach_the_api_server(argo: Start) -> None:
    fake, reader = argo(application("web-dev"))
    reader.get("web-dev", "argocd")
    reader.list("argocd")
    list(reader.watch("argocd", seconds=1))
    assert {method for method, _ in fake.requests} == {"GET"}
    assert len(fake.requests) == 3


# --- what goes wrong, and what it means ------------------------------------------------------


def test_a_missing_application_names_itself_and_its_namespace(argo: Start) -> None:
    _, reader = argo(application("web-dev"))
    expected = r"^Application web-staging not found in namespace argocd "
    with pytest.raises(ConfigError, match=expected):
        reader.get("web-staging", "argocd")


@pytest.mark.parametrize("call", ["get", "list"])
def test_no_argo_cd_in_the_cluster_says_so(argo: Start, call: str) -> None:
    fake, reader = argo(application("web-dev"))
    fake.fault = Fault.NO_CRD
    with pytest.raises(ConfigError, match=r"serves no applications\.argoproj\.io/v1alpha1"):
        reader.get("web-dev", "argocd") if call == "get" else reader.list("argocd")


@pytest.mark.parametrize("verb", ["get", "list", "watch"])
def test_forbidden_names_the_rbac_the_promoter_needs(argo: Start, verb: str) -> None:
    fake, reader = argo(application("web-dev"))
    fake.fault = Fault.FORBIDDEN
    with pytest.raises(ConfigError) as raised:
        if verb == "get":
            reader.get("web-dev", "argocd")
        elif verb == "list":
            reader.list("argocd")
        else:
            list(reader.watch("argocd", seconds=1))
    message = str(raised.value)
    assert f"forbids the promoter to {verb} Applications in namespace argocd" in message
    assert "needs get, list and watch on applications.argoproj.io in namespace argocd" in message
    assert f'cannot {verb} resource "applications"' in message  # the API server's own words


def test_a_selector_the_api_server_cannot_parse_is_refused(argo: Start) -> None:
    _, reader = argo(application("web-dev"))
    with pytest.raises(
        ConfigError, match=r"refused to list Applications \(400 Bad Request: unable"
    ):
        reader.list("argocd", label_selector="env in (dev")


def test_a_wrong_token_is_our_configuration(argo: Start) -> None:
    _, reader = argo(application("web-dev"), token="stale-token")
    with pytest.raises(ConfigError, match=r"refused our credentials \(401 Unauthorized\)"):
        reader.get("web-dev", "argocd")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.UNAVAILABLE, "answered 503 Service Unavailable: the server is currently unable"),
        (Fault.THROTTLED, "answered 429 Too Many Requests: Too many requests"),
    ],
)
def test_an_api_server_that_is_down_or_busy_is_transient(
    argo: Start, fault: Fault, expected: str
) -> None:
    fake, reader = argo(application("web-dev"))
    fake.fault = fault
    with pytest.raises(ClusterUnavailable, match=expected) as raised:
        reader.get("web-dev", "argocd")
    assert isinstance(raised.value, TransientError)


def test_a_hung_api_server_ends_within_the_deadline_tried_once(argo: Start) -> None:
    fake, reader = argo(application("web-dev"))
    fake.fault = Fault.HANG
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match=f"did not answer within {DEADLINE:g} s"):
        reader.get("web-dev", "argocd")
    took = time.monotonic() - started
    assert DEADLINE * 0.9 <= took < DEADLINE + SLACK
    assert len(fake.requests) == 1  # no retry hidden in the client: one deadline, not four


def test_an_api_server_not_listening_is_transient(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe is closed
    config = write_kubeconfig(
        tmp_path / "kubeconfig", server=f"http://127.0.0.1:{port}", token=TOKEN
    )
    access = ClusterAccess(str(config), timeout=DEADLINE)
    with (
        ApplicationReader.connect(access) as reader,
        pytest.raises(ClusterUnavailable, match=f"127.0.0.1:{port} could not be reached"),
    ):
        reader.get("web-dev", "argocd")


def test_an_answer_that_is_not_json_is_transient(argo: Start) -> None:
    fake, reader = argo(application("web-dev"))
    fake.fault = Fault.NOT_JSON
    with pytest.raises(ClusterUnavailable, match="not an object"):
        reader.get("web-dev", "argocd")


def test_tls_to_a_server_that_speaks_none_is_our_configuration(argo: Start, tmp_path: Path) -> None:
    fake, _ = argo(application("web-dev"))
    https = fake.url.replace("http://", "https://")
    config = write_kubeconfig(tmp_path / "https-kubeconfig", server=https, token=TOKEN)
    with (
        ApplicationReader.connect(ClusterAccess(str(config), timeout=DEADLINE)) as reader,
        pytest.raises(ConfigError, match=f"at {https}: TLS failed .*check the kubeconfig's"),
    ):
        reader.get("web-dev", "argocd")


# --- the fixtures cannot drift from Argo CD's shape ------------------------------------------


def test_a_fixture_argo_cd_would_not_store_is_refused(argo: Start) -> None:
    fake, _ = argo()
    wrong_type = application("web-dev")
    wrong_type["status"]["sync"]["status"] = 7
    with pytest.raises(FixtureRejected, match=r"status\.sync\.status: 7 is not of type 'string'"):
        fake.put(wrong_type)
    unknown = copy.deepcopy(application("web-dev"))
    unknown["status"]["sync"]["synced"] = True
    with pytest.raises(FixtureRejected, match="'synced' was unexpected"):
        fake.put(unknown)
    with pytest.raises(FixtureRejected, match="'startedAt' is a required property"):
        fake.put(_without_started_at(application("web-dev")))
    assert fake.app("argocd", "web-dev") is None


def _without_started_at(app: dict[str, object]) -> dict[str, object]:
    broken = copy.deepcopy(app)
    del broken["status"]["operationState"]["startedAt"]  # type: ignore[index]
    return broken


def test_the_factory_refuses_what_it_cannot_build_validly() -> None:
    with pytest.raises(FixtureRejected, match="is not of type 'string'"):
        application("web-dev", sync=7)  # type: ignore[arg-type]


def test_what_the_fake_stores_is_a_copy(argo: Start) -> None:
    fake, reader = argo()
    app = application("web-dev")
    fake.put(app)
    app["status"]["health"]["status"] = 7  # cannot reach the served object past the check
    assert reader.get("web-dev", "argocd").health == "Healthy"


# --- where the cluster is ---------------------------------------------------------------------


def test_an_explicit_kubeconfig_wins_then_kubeconfig_then_home(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("")
    home = {"HOME": str(tmp_path)}
    env = {**home, "KUBECONFIG": "/etc/a:/etc/b"}
    assert ClusterAccess.from_environ(env, kubeconfig="/x").kubeconfig == "/x"
    assert ClusterAccess.from_environ(env).kubeconfig == "/etc/a:/etc/b"
    assert ClusterAccess.from_environ(home).kubeconfig == str(tmp_path / ".kube" / "config")
    assert ClusterAccess.from_environ({"HOME": str(tmp_path / "none")}).kubeconfig is None


def test_no_kubeconfig_outside_a_cluster_says_what_to_set(tmp_path: Path) -> None:
    access = ClusterAccess.from_environ({"HOME": str(tmp_path)})
    assert access.kubeconfig is None
    with pytest.raises(ConfigError, match=r"no cluster to read Argo CD from.*set KUBECONFIG"):
        ApplicationReader.connect(access)


def test_an_unreadable_kubeconfig_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError, match=f"^kubeconfig {missing}: "):
        ApplicationReader.connect(ClusterAccess(str(missing)))
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [\n")
    with pytest.raises(ConfigError, match=f"^kubeconfig {garbage}: "):
        ApplicationReader.connect(ClusterAccess(str(garbage)))


@pytest.mark.parametrize("seconds", [0, -1.0])
def test_a_deadline_must_be_positive(seconds: float) -> None:
    with pytest.raises(ConfigError, match="cluster timeout: expected seconds above 0"):
        ClusterAccess("/x", timeout=seconds)


# --- read-only, by construction ---------------------------------------------------------------

WRITE_WORDS = {"create", "patch", "replace", "delete", "post", "put", "update", "apply"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RAW_CALLS = {"call_api", "request", "param_serialize"}  # a request built by hand could write


def writes(source: str) -> list[str]:
    """Names of calls and string constants in `source` that could write to the cluster."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if set(name.lower().split("_")) & WRITE_WORDS or name in RAW_CALLS:
                found.append(name)
        elif isinstance(node, ast.Constant) and str(node.value).upper() in WRITE_METHODS:
            found.append(repr(node.value))
    return found


def test_the_cluster_adapter_calls_only_get_list_and_watch() -> None:
    assert writes(ARGOCD_MODULE.read_text()) == []


def test_the_write_check_sees_a_write() -> None:
    source = (
        "api.patch_namespaced_custom_object(g, v, ns, p, name, body)\n"
        "delete(x)\n"
        "client.call_api('/apis', 'GET')\n"
        "method = 'PATCH'\n"
        "api.get_namespaced_custom_object(g, v, ns, p, name)\n"
    )
    assert writes(source) == ["patch_namespaced_custom_object", "delete", "call_api", "'PATCH'"]
