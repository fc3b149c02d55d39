"""A Kubernetes API server for Argo CD Applications only, on loopback, for the real client.

No API server runs here, so this one answers the paths and JSON the real one does for
`applications.argoproj.io/v1alpha1`: get (the object, or a NotFound `Status`), list (an
`ApplicationList`) and watch (newline-delimited events, chunked, ended after `timeoutSeconds`).
It checks the bearer token, answers 401/403/404/503 with the API server's `Status` objects, and
can hang. Every Application it holds passed Argo CD's own CRD schema (tests/test_argocd.py's
strict check), so a fixture cannot drift from what a cluster would store.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import yaml

from .test_argocd import crd_problems, crds_or_skip

Obj = dict[str, Any]

GROUP, VERSION = "argoproj.io", "v1alpha1"
PATH = re.compile(rf"^/apis/{GROUP}/{VERSION}/namespaces/([^/]+)/applications(?:/([^/]+))?$")
REPO_URL = "https://github.com/demo-shop/shop.git"
IN_CLUSTER = "https://kubernetes.default.svc"
USER = "promoter@demo-shop.iam.gserviceaccount.com"
LONGEST_WATCH = 60  # seconds: a test's watch that names no timeoutSeconds still ends


class FixtureRejected(ValueError):
    """An Application the API server would refuse under Argo CD's CRD."""


def refuse_invalid(obj: Obj) -> Obj:
    """`obj` if Argo CD's CRD (strict: no unknown field) accepts it; skips without the CRDs."""
    problems = crd_problems(obj, crds_or_skip())
    if problems:
        raise FixtureRejected("; ".join(problems))
    return obj


def application(
    name: str,
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    revision: str = "0" * 40,
    namespace: str = "argocd",
    path: str | None = None,
    phase: str | None = "Succeeded",
    finished_at: str = "2026-03-02T09:12:40Z",
    reconciled_at: str = "2026-03-02T09:15:02Z",
    labels: dict[str, str] | None = None,
    sources: list[Obj] | None = None,
) -> Obj:
    """An Application as Argo CD stores it, checked against the CRD; `sources` makes it
    multi-source (then `revision` is each source's, in `status.sync.revisions`)."""
    source = {"repoURL": REPO_URL, "path": path or f"overlays/{name}", "targetRevision": "main"}
    spec: Obj = {
        "project": "demo-shop",
        "destination": {"server": IN_CLUSTER, "namespace": f"demo-shop-{name}"},
        **({"sources": sources} if sources else {"source": source}),
    }
    synced = {"revisions": [revision] * len(sources)} if sources else {"revision": revision}
    status: Obj = {
        "sync": {"status": sync, "comparedTo": {"destination": spec["destination"]}, **synced},
        "health": {"status": health},
        "reconciledAt": reconciled_at,
        "sourceType": "Kustomize",
    }
    sources_or_source: Obj = {"sources": sources} if sources else {"source": source}
    status["sync"]["comparedTo"].update(sources_or_source)
    if phase is not None:
        status["operationState"] = {
            "operation": {"sync": synced, "initiatedBy": {"automated": True}},
            "phase": phase,
            "startedAt": "2026-03-02T09:12:31Z",
            "finishedAt": finished_at,
            "syncResult": {"revision": "", **synced, **sources_or_source},
        }
    metadata: Obj = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    return refuse_invalid(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Application",
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }
    )


class Fault(enum.Enum):
    """What the fake does instead of answering."""

    UNAVAILABLE = 503  # a ServiceUnavailable Status
    THROTTLED = 429  # API Priority and Fairness turns the request away for now
    FORBIDDEN = 403  # RBAC denies the verb
    HANG = 0  # reads the request and never answers
    NO_CRD = 404  # Argo CD is not installed: the group/version is not served
    NOT_JSON = 200  # something in between answers 200 with an HTML page


def status_object(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    """A `Status` as the API server sends it with a failure."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        **({"details": details} if details is not None else {}),
        "code": code,
    }


def selects(selector: str, labels: dict[str, str]) -> bool:
    """Whether an equality-based label selector (`a=b,c!=d`) matches `labels`."""
    for term in filter(None, selector.split(",")):
        found = re.fullmatch(r"\s*([^!=\s]+)\s*(!=|==|=)\s*([^!=\s]*)\s*", term)
        if found is None:
            raise ValueError(f"unable to parse requirement: {term!r}")
        key, op, value = found.groups()
        if (labels.get(key) == value) != (op != "!="):
            return False
    return True


def _unparsable(selector: str) -> str | None:
    try:
        selects(selector, {})
    except ValueError as err:
        return str(err)
    return None


class KubeFake:
    """The fake API server; use it as a context manager, so that its threads always end."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.fault: Fault | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path?query) as they arrived
        self._apps: dict[tuple[str, str], Obj] = {}
        self._events: list[tuple[str, Obj]] = []  # (type, object) in resourceVersion order
        self._versions = itertools.count(1000)
        self._changed = threading.Condition()
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-fake"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> KubeFake:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()  # joins every request's thread (hung and watching too)
        self._thread.join()

    def put(self, obj: Obj) -> Obj:
        """Store a copy of an Application, as the API server would after admission."""
        stored = copy.deepcopy(refuse_invalid(obj))
        meta = stored["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._changed:
            old = self._apps.get(key)
            version = next(self._versions)
            meta["resourceVersion"] = str(version)
            meta["uid"] = (
                old["metadata"]["uid"] if old else f"00000000-0000-4000-8000-{version:012d}"
            )
            meta["creationTimestamp"] = "2026-03-02T09:00:00Z"
            self._apps[key] = stored
            self._events.append(("MODIFIED" if old else "ADDED", stored))
            self._changed.notify_all()
        return copy.deepcopy(stored)

    def apps(self, namespace: str, selector: str = "") -> list[Obj]:
        with self._changed:
            found = [a for (ns, _), a in sorted(self._apps.items()) if ns == namespace]
        return [a for a in found if selects(selector, a["metadata"].get("labels") or {})]

    def app(self, namespace: str, name: str) -> Obj | None:
        with self._changed:
            return self._apps.get((namespace, name))

    def resource_version(self) -> str:
        with self._changed:
            return self._events[-1][1]["metadata"]["resourceVersion"] if self._events else "999"

    def events_after(self, position: int, *, until: float) -> tuple[list[tuple[str, Obj]], int]:
        """Events from `position` on, waiting for one until `until` (or the fake stops)."""
        with self._changed:
            while len(self._events) <= position and not self.stopping.is_set():
                if not self._changed.wait(timeout=max(0.0, until - time.monotonic())):
                    break
            return self._events[position:], len(self._events)

    def position(self) -> int:
        with self._changed:
            return len(self._events)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them: no test leaves a thread behind
    block_on_close = True
    fake: KubeFake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked watch streams, as the API server sends them
    timeout = 30  # an idle client cannot hold a thread past the test
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read fake.requests, not stderr

    def do_GET(self) -> None:
        fake = self.server.fake
        fake.requests.append(("GET", self.path))
        if not self._authorized():
            self._send(401, status_object(401, "Unauthorized", "Unauthorized"))
        elif fake.fault is Fault.HANG:
            fake.stopping.wait()
            self.close_connection = True
        elif fake.fault is Fault.NOT_JSON:
            self._send(200, "<html><body>Sign in</body></html>", content_type="text/html")
        else:
            self._route(urlsplit(self.path))

    def _reject_write(self) -> None:
        self.server.fake.requests.append((self.command, self.path))
        self._send(405, status_object(405, "MethodNotAllowed", "the fake serves reads only"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _reject_write

    def _authorized(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token == self.server.fake.token

    def _route(self, url: SplitResult) -> None:
        fake, match = self.server.fake, PATH.match(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        watching = query.get("watch") in ("true", "1")
        if match is None or fake.fault is Fault.NO_CRD:
            message = "the server could not find the requested resource"
            self._send(404, status_object(404, "NotFound", message, {}))
        elif fake.fault is Fault.UNAVAILABLE:
            message = "the server is currently unable to handle the request"
            self._send(503, status_object(503, "ServiceUnavailable", message, {}))
        elif fake.fault is Fault.THROTTLED:
            message = "Too many requests, please try again later."
            self._send(
                429, status_object(429, "TooManyRequests", message, {"retryAfterSeconds": 1})
            )
        elif fake.fault is Fault.FORBIDDEN:
            self._forbidden(match, "watch" if watching else "get" if match[2] else "list")
        elif match[2]:
            self._get(match[1], match[2])
        elif (bad := _unparsable(query.get("labelSelector", ""))) is not None:
            self._send(400, status_object(400, "BadRequest", bad))
        elif watching:
            self._watch(match[1], query)
        else:
            self._list(match[1], query.get("labelSelector", ""))

    def _forbidden(self, match: re.Match[str], verb: str) -> None:
        namespace, name = match[1], match[2]
        what = f'applications.{GROUP} "{name}"' if name else f"applications.{GROUP}"
        message = (
            f'{what} is forbidden: User "{USER}" cannot {verb} resource "applications" in API'
            f' group "{GROUP}" in the namespace "{namespace}"'
        )
        details = {"group": GROUP, "kind": "applications", **({"name": name} if name else {})}
        self._send(403, status_object(403, "Forbidden", message, details))

    def _get(self, namespace: str, name: str) -> None:
        found = self.server.fake.app(namespace, name)
        if found is None:
            details = {"name": name, "group": GROUP, "kind": "applications"}
            message = f'applications.{GROUP} "{name}" not found'
            self._send(404, status_object(404, "NotFound", message, details))
        else:
            self._send(200, found)

    def _list(self, namespace: str, selector: str) -> None:
        fake = self.server.fake
        items = fake.apps(namespace, selector)
        listed = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ApplicationList",
            "metadata": {"continue": "", "resourceVersion": fake.resource_version()},
            "items": items,
        }
        self._send(200, listed)

    def _watch(self, namespace: str, query: dict[str, str]) -> None:
        """ADDED for what exists, then each change. Every watch starts from now: the client
        resumes from a resourceVersion only when no timeoutSeconds was asked for."""
        fake = self.server.fake
        until = time.monotonic() + int(query.get("timeoutSeconds") or LONGEST_WATCH)
        selector = query.get("labelSelector", "")
        position = fake.position()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client went away
            for app in fake.apps(namespace, selector):
                self._chunk({"type": "ADDED", "object": app})
            while time.monotonic() < until and not fake.stopping.is_set():
                events, position = fake.events_after(position, until=until)
                for kind, app in events:
                    meta = app["metadata"]
                    if meta["namespace"] == namespace and selects(
                        selector, meta.get("labels") or {}
                    ):
                        self._chunk({"type": kind, "object": app})
            self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send(self, code: int, body: Obj | str, *, content_type: str = "application/json") -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


def write_kubeconfig(path: Path, *, server: str, token: str) -> Path:
    """A kubeconfig as kubectl writes it: one cluster, one user with a bearer token."""
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "promoter", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "promoter"}}],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    return path


@contextlib.contextmanager
def serving(*apps: Obj, token: str) -> Iterator[KubeFake]:
    """A started fake holding `apps`; stopped, threads joined, however the block ends."""
    with KubeFake(token=token) as fake:
        for app in apps:
            fake.put(app)
        yield fake
