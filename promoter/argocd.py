"""Argo CD's Applications, read through the Kubernetes API: get, list and watch, nothing more.

The promoter never writes to the cluster: it writes to git and Argo CD applies. Its RBAC
(argocd/rbac/promoter-readonly.yaml) grants get, list and watch on applications.argoproj.io,
and this module calls nothing else (tests/test_argocd_status.py scans it for any other verb).

Each request is tried once within a deadline (10 s unless told): urllib3 would otherwise retry
a hung read three times, four deadlines in all, and whoever called us retries anyway (Pub/Sub
delivers again; a person runs `promoter status` again).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from promoter.appstatus import AppStatus
from promoter.errors import ClusterUnavailable, ConfigError

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"
DEFAULT_TIMEOUT = 10.0
READ_RBAC = "get, list and watch on applications.argoproj.io"


@dataclass(frozen=True)
class ClusterAccess:
    """Which cluster to ask and how long one request may take."""

    kubeconfig: str | None = None  # a path, or KUBECONFIG's list of paths; None: in-cluster
    context: str | None = None  # None: the kubeconfig's current-context
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"cluster timeout: expected seconds above 0, got {self.timeout!r}")

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ClusterAccess:
        """As kubectl looks: `kubeconfig`, else KUBECONFIG, else ~/.kube/config; else in-cluster."""
        home = environ.get("HOME")
        default = Path(home, ".kube", "config") if home else None
        found = kubeconfig or environ.get("KUBECONFIG") or None
        if found is None and default is not None and default.is_file():
            found = str(default)
        return cls(found, context, timeout)

    def configuration(self) -> client.Configuration:
        """The client's configuration, from the kubeconfig or the pod's service account."""
        settings = client.Configuration()
        settings.retries = 0  # one try per deadline (see the module's docstring)
        if self.kubeconfig is None:
            _load_in_cluster(settings)
        else:
            _load_kubeconfig(settings, self.kubeconfig, self.context)
        return settings


def _load_kubeconfig(settings: client.Configuration, path: str, context: str | None) -> None:
    try:
        config.load_kube_config(
            config_file=path, context=context, client_configuration=settings, persist_config=False
        )
    except (config.ConfigException, OSError, yaml.YAMLError) as err:
        raise ConfigError(f"kubeconfig {path}: {err}") from None


def _load_in_cluster(settings: client.Configuration) -> None:
    try:
        config.load_incluster_config(client_configuration=settings)
    except config.ConfigException as err:
        raise ConfigError(
            "no cluster to read Argo CD from: no kubeconfig (pass one, or set KUBECONFIG; there"
            f" is no ~/.kube/config), and not inside a cluster either ({err})"
        ) from None


class ApplicationReader:
    """Reads Argo CD Applications; every call is one request within the deadline."""

    def __init__(self, api: client.ApiClient, *, timeout: float) -> None:
        self._api_client = api
        self._apps = client.CustomObjectsApi(api)
        self.host: str = api.configuration.host
        self.timeout = timeout

    @classmethod
    def connect(cls, access: ClusterAccess) -> ApplicationReader:
        """A reader for the cluster `access` names; nothing is sent until the first call."""
        return cls(client.ApiClient(access.configuration()), timeout=access.timeout)

    def __enter__(self) -> ApplicationReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._api_client.close()

    def get(self, name: str, namespace: str) -> AppStatus:
        """The Application `name` in `namespace`."""
        with self._translated("get", namespace, name):
            found = self._apps.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=self.timeout
            )
        return AppStatus.from_object(_mapping(found))

    def list(self, namespace: str, label_selector: str | None = None) -> list[AppStatus]:
        """Every Application in `namespace` (those matching `label_selector` if given)."""
        with self._translated("list", namespace):
            found = self._apps.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                label_selector=label_selector,
                _request_timeout=self.timeout,
            )
        return [
            AppStatus.from_object(_mapping(item)) for item in _mapping(found).get("items") or []
        ]

    def watch(
        self, namespace: str, *, seconds: int, label_selector: str | None = None
    ) -> Generator[tuple[str, AppStatus], None, None]:
        """(event type, status) as Applications in `namespace` change, for `seconds` at most.

        The first events are ADDED, one per Application that exists now; close the iterator
        to stop early.
        """
        stream = watch.Watch().stream(
            self._apps.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            label_selector=label_selector,
            timeout_seconds=seconds,  # the API server ends the watch; the client does not retry
            # A quiet watch sends nothing for a while: give the server its `seconds` first.
            _request_timeout=(self.timeout, seconds + self.timeout),
        )
        with contextlib.closing(stream), self._translated("watch", namespace):
            for event in stream:
                yield event["type"], AppStatus.from_object(event["raw_object"])

    @contextlib.contextmanager
    def _translated(self, verb: str, namespace: str, name: str | None = None) -> Iterator[None]:
        """The client's errors as ours: down means transient, refused means our configuration."""
        try:
            yield
        except ApiException as err:
            raise self._refused(err, verb, namespace, name) from None
        except urllib3.exceptions.HTTPError as err:
            raise self._unreachable(err) from None

    def _unreachable(self, err: urllib3.exceptions.HTTPError) -> ClusterUnavailable | ConfigError:
        at = f"Kubernetes API at {self.host}"
        cause = getattr(err, "reason", None) or err
        if isinstance(cause, urllib3.exceptions.SSLError):  # no retry: a CA, a URL, to fix
            return ConfigError(
                f"{at}: TLS failed ({cause}): check the kubeconfig's server and its CA"
            )
        # urllib3's NewConnectionError (refused, no route) is a ConnectTimeoutError by descent.
        timed_out = isinstance(cause, urllib3.exceptions.TimeoutError)
        if timed_out and not isinstance(cause, urllib3.exceptions.NewConnectionError):
            return ClusterUnavailable(f"{at} did not answer within {self.timeout:g} s")
        return ClusterUnavailable(f"{at} could not be reached: {cause}")

    def _refused(
        self, err: ApiException, verb: str, namespace: str, name: str | None
    ) -> ClusterUnavailable | ConfigError:
        status, said = err.status, _message(err)
        at = f"Kubernetes API at {self.host}"
        if status == 401:
            return ConfigError(
                f"{at} refused our credentials (401 Unauthorized): check the kubeconfig's user,"
                " or the pod's service account token"
            )
        if status == 403:
            return ConfigError(
                f"{at} forbids the promoter to {verb} Applications in namespace {namespace} (403"
                f" Forbidden: {said}): it needs {READ_RBAC} in namespace {namespace}, as"
                " argocd/rbac/promoter-readonly.yaml grants"
            )
        if status == 404 and name is not None and _details(err).get("name") == name:
            return ConfigError(f"Application {name} not found in namespace {namespace} ({at})")
        if status == 404:
            return ConfigError(
                f"{at} serves no {PLURAL}.{GROUP}/{VERSION} ({said}): is Argo CD installed?"
            )
        if status == 400:  # a label selector it cannot parse, say
            return ConfigError(f"{at} refused to {verb} Applications (400 Bad Request: {said})")
        if status == 429 or (isinstance(status, int) and status >= 500):
            return ClusterUnavailable(f"{at} answered {status} {err.reason}: {said}")
        raise err  # not understood: a bug of ours or the client's, with its traceback


def _mapping(found: object) -> Mapping[str, Any]:
    """The client returns custom objects as parsed JSON, typed `object`."""
    if not isinstance(found, Mapping):
        raise ClusterUnavailable(
            f"the Kubernetes API answered {type(found).__name__}, not an object"
        )
    return found


def _status_object(err: ApiException) -> dict[str, Any]:
    """The API server's `Status` object in an error's body, or {} if it sent none."""
    try:
        body = json.loads(err.body or "")
    except ValueError:
        return {}
    return body if isinstance(body, dict) and body.get("kind") == "Status" else {}


def _message(err: ApiException) -> str:
    return str(_status_object(err).get("message") or err.reason)


def _details(err: ApiException) -> dict[str, Any]:
    details = _status_object(err).get("details")
    return details if isinstance(details, dict) else {}
