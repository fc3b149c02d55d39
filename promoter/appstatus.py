"""What Argo CD says of one Application: sync, health, the revision it synced, the last sync.

Pure: the adapter (promoter/argocd.py) fetches the object, this reads it, so the gates and
`promoter status` can take an `AppStatus` without importing a cluster client. Argo CD fills
`status` asynchronously: a new Application has none yet, and reads as Unknown here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

UNKNOWN = "Unknown"


@dataclass(frozen=True)
class AppStatus:
    """One Application's sync and health as Argo CD last reported them."""

    name: str
    namespace: str
    sync: str = UNKNOWN  # status.sync.status: Synced, OutOfSync, Unknown
    health: str = UNKNOWN  # status.health.status: Healthy, Progressing, Degraded, Missing, ...
    revision: str | None = None  # status.sync.revision, or the first source's of revisions
    revisions: tuple[str, ...] = ()  # status.sync.revisions: one per source (multi-source apps)
    operation: str | None = None  # status.operationState.phase: Running, Succeeded, Failed, ...
    synced_at: datetime | None = None  # status.operationState.finishedAt: the last sync's end
    reconciled_at: datetime | None = None  # status.reconciledAt: the last comparison with git

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> AppStatus:
        """Read an Application object as the Kubernetes API returns it."""
        metadata = obj.get("metadata") or {}
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        operation = status.get("operationState") or {}
        revisions = tuple(str(r) for r in sync.get("revisions") or ())
        return cls(
            name=str(metadata.get("name", "")),
            namespace=str(metadata.get("namespace", "")),
            sync=str(sync.get("status") or UNKNOWN),
            health=str((status.get("health") or {}).get("status") or UNKNOWN),
            revision=sync.get("revision") or (revisions[0] if revisions else None),
            revisions=revisions,
            operation=operation.get("phase") or None,
            synced_at=_time(operation.get("finishedAt")),
            reconciled_at=_time(status.get("reconciledAt")),
        )


def _time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as Kubernetes writes it (`2026-03-02T09:10:51Z`), else None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def not_running(app: AppStatus, commit: str, *, contains: Callable[[str, str], bool]) -> str | None:
    """Why `app` does not run `commit` synced and healthy yet (None: it does).

    `contains(revision, commit)`: the synced revision has `commit` in its history.
    """
    if app.sync != "Synced":
        return f"Argo CD app {app.name} is {app.sync}, not Synced"
    if app.health != "Healthy":
        return f"Argo CD app {app.name} is {app.health}, not Healthy"
    if app.revision is None:
        return f"Argo CD app {app.name} has synced no revision yet"
    if not contains(app.revision, commit):
        return (
            f"Argo CD app {app.name} synced {app.revision[:12]}, which does not hold"
            f" {commit[:12]} yet"
        )
    return None
