"""`promoter status`: per environment and image, what git says was promoted and what Argo CD
says it runs. Pure: the adapter gathers the facts, this lays them out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One image in one environment."""

    environment: str
    image: str
    digest: str | None
    build_id: str | None
    commit: str | None  # the commit that promoted it into this environment
    sync: str | None = None  # Argo CD's sync status; None: no Argo CD app for the environment
    health: str | None = None
    synced_revision: str | None = None
    in_sync: bool | None = None  # the synced revision contains `commit`; None: cannot say

    @property
    def state(self) -> str:
        """In words: what a person wants to know first."""
        if self.commit is None:
            return "nothing promoted"
        if self.in_sync is None:
            return "promoted" if self.sync is None else "promoted, Argo CD has no revision"
        if not self.in_sync:
            return "promoted, not yet synced"
        return "synced" if self.health in (None, "Healthy") else f"synced, {self.health}"

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "image": self.image,
            "digest": self.digest,
            "build_id": self.build_id,
            "commit": self.commit,
            "sync": self.sync,
            "health": self.health,
            "syncedRevision": self.synced_revision,
            "inSync": self.in_sync,
            "state": self.state,
        }


def table(rows: Iterable[Row]) -> str:
    """A plain table for people."""
    lines = [("ENV", "IMAGE", "DIGEST", "BUILD", "COMMIT", "SYNC", "HEALTH", "STATE")]
    for r in rows:
        lines.append(
            (
                r.environment,
                r.image.rsplit("/", 1)[-1],
                (r.digest or "-")[7:19] or "-",
                (r.build_id or "-")[:8],
                (r.commit or "-")[:12],
                r.sync or "-",
                r.health or "-",
                r.state,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in lines
    )
