"""The `promoted` message: what a commit put into which environment. Pure.

Published after each promotion commit on the topic PROMOTER_EVENTS_TOPIC (one message per
environment and image), read back by the `on_promoted_event` function, which promotes into the
environments fed by that one, and by anyone else who subscribes (notifications, extra tests).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from promoter.audit import FileChange
from promoter.environments import Environment, environment_of
from promoter.errors import InvalidEvent
from promoter.images import is_digest

KIND = "promoted"


@dataclass(frozen=True)
class Promoted:
    """One image promoted into one environment (`environment` None: the repo has none)."""

    environment: str | None
    image: str
    digest: str
    build_id: str
    commit: str

    def data(self) -> bytes:
        return json.dumps({"kind": KIND, **asdict(self)}, separators=(",", ":")).encode()

    def attributes(self) -> dict[str, str]:
        """For subscription filters (`attributes.environment = "dev"`)."""
        return {"kind": KIND, "environment": self.environment or "", "image": self.image}

    @classmethod
    def from_data(cls, data: bytes) -> Promoted:
        """Parse a message's data, or raise InvalidEvent naming the field."""
        try:
            fields = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise InvalidEvent("promoted message: expected JSON") from None
        if not isinstance(fields, dict) or fields.get("kind") != KIND:
            raise InvalidEvent(f"promoted message: expected an object with kind {KIND!r}")
        for key in ("image", "digest", "build_id", "commit"):
            if not isinstance(fields.get(key), str) or not fields[key]:
                raise InvalidEvent(f"promoted message: {key}: expected a string")
        environment = fields.get("environment")
        if environment is not None and not isinstance(environment, str):
            raise InvalidEvent("promoted message: environment: expected a string or null")
        if not is_digest(fields["digest"]):
            raise InvalidEvent("promoted message: digest: expected sha256:<64 hex digits>")
        return cls(
            environment, fields["image"], fields["digest"], fields["build_id"], fields["commit"]
        )


def promoted(
    changes: Sequence[FileChange],
    *,
    environments: Sequence[Environment],
    build_id: str,
    commit: str,
) -> list[Promoted]:
    """The messages for one commit: each (environment, image) its changes wrote, once."""
    found: dict[tuple[str | None, str], Promoted] = {}
    for change in changes:
        env = environment_of(tuple(environments), change.path) if environments else None
        if environments and env is None:
            continue  # a file outside every environment: nothing downstream follows it
        name = env.name if env else None
        digest = change.new.rpartition("@")[2]
        found.setdefault(
            (name, change.repository),
            Promoted(name, change.repository, digest, build_id, commit),
        )
    return list(found.values())
