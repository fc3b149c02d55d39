"""The ledger: which build each target got, kept in the config repo itself.

One JSON object a line, sorted, at `.promoter/ledger.jsonl`. Git history is not needed to
read it (shallow clones work), no pod template changes with it (no extra rollouts), and the
`.jsonl` name keeps it out of kustomize and of Argo CD's directory sources.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from promoter.errors import ConfigError
from promoter.events import BuildEvent, BuildTime
from promoter.images import is_digest

PATH = ".promoter/ledger.jsonl"

Target = tuple[str, str]
"""A file and a repository named in it: the unit the ledger orders builds for."""


@dataclass(frozen=True)
class Record:
    """The build a target last got."""

    path: str
    repository: str
    build_id: str
    create_time: BuildTime
    digest: str

    @property
    def target(self) -> Target:
        return (self.path, self.repository)

    def is_newer_than(self, event: BuildEvent) -> bool:
        """True when this record's build was created after `event`'s (ties: by build id)."""
        assert event.create_time is not None
        return (self.create_time, self.build_id) > (event.create_time, event.build_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "path": self.path,
                "repository": self.repository,
                "build": self.build_id,
                "createTime": self.create_time.text,
                "digest": self.digest,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class Ledger:
    """Every target's last build, keyed by target."""

    records: Mapping[Target, Record]

    @classmethod
    def from_text(cls, text: str | None) -> Ledger:
        """Parse the ledger file; a missing file is an empty ledger."""
        lines = (text or "").splitlines()
        records = (_record(line, n) for n, line in enumerate(lines, 1) if line.strip())
        return cls({r.target: r for r in records})

    def get(self, target: Target) -> Record | None:
        return self.records.get(target)

    def with_records(self, records: Iterable[Record]) -> Ledger:
        """A new ledger where `records` replace those of the same targets."""
        merged = dict(self.records)
        merged.update((r.target, r) for r in records)
        return Ledger(merged)

    def to_text(self) -> str:
        return "".join(self.records[t].to_json() + "\n" for t in sorted(self.records))


def _record(line: str, number: int) -> Record:
    where = f"{PATH}: line {number}"
    try:
        data = json.loads(line)
        record = Record(
            path=data["path"],
            repository=data["repository"],
            build_id=data["build"],
            create_time=BuildTime.parse(data["createTime"]),
            digest=data["digest"],
        )
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{where}: expected a ledger record ({type(err).__name__})") from None
    fields = (record.path, record.repository, record.build_id)
    if not all(isinstance(f, str) for f in fields) or not is_digest(str(record.digest)):
        raise ConfigError(f"{where}: expected string fields and a sha256 digest")
    return record
