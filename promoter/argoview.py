"""Argo CD's word on the environments: the `requireHealthy` gate and `promoter status`.

Connected on first use, so that a promoter whose environments ask nothing of Argo CD needs no
cluster access at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from promoter.appstatus import AppStatus, not_running
from promoter.argocd import ApplicationReader, ClusterAccess
from promoter.environments import Environment
from promoter.gitrepo import Workspace


class ArgoView:
    """The Applications of the environments, read-only, through one lazily made reader."""

    def __init__(self, access: Callable[[], ClusterAccess]) -> None:
        self._access = access
        self._reader: ApplicationReader | None = None

    @classmethod
    @contextmanager
    def from_environ(
        cls, environ: Mapping[str, str], *, kubeconfig: str | None = None
    ) -> Iterator[ArgoView]:
        """As kubectl finds its cluster: `kubeconfig`, KUBECONFIG, ~/.kube/config, in-cluster."""
        view = cls(lambda: ClusterAccess.from_environ(environ, kubeconfig=kubeconfig))
        try:
            yield view
        finally:
            if view._reader is not None:
                view._reader.__exit__()

    def app(self, environment: Environment) -> AppStatus | None:
        """The environment's Application, or None when promoter.yaml names none."""
        if environment.argocd is None:
            return None
        if self._reader is None:
            self._reader = ApplicationReader.connect(self._access())
        return self._reader.get(environment.argocd.app, environment.argocd.namespace)

    def health(self, source: Environment, commit: str, workspace: Workspace) -> str | None:
        """The `requireHealthy` gate (a HealthCheck): why `source` does not run `commit` yet."""
        app = self.app(source)
        if app is None:  # promoter.yaml refuses requireHealthy without the source's app
            return f"environment {source.name} names no Argo CD app"
        return not_running(app, commit, contains=lambda rev, c: workspace.is_ancestor(c, rev))
