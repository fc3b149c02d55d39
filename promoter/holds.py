"""Holds and rolled-back digests: what events may not promote, kept in the config repo itself.

Pure. Two files next to the ledger, one JSON object a line, sorted, so that every instance reads
the same rules from the tip it promotes on and every change to them is a commit:
- `.promoter/holds.jsonl`: an image held in the files a glob matches (`promoter hold`);
- `.promoter/rolled-back.jsonl`: digests that `promoter rollback` removed; an event carrying
  one is ignored from then on, whatever build carries it.
A file that cannot be read stops the event (ConfigError): a rule that cannot be read is never
taken for "no rule".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from wcmatch import glob

from promoter.errors import ConfigError
from promoter.images import is_digest

HOLDS_PATH = ".promoter/holds.jsonl"
ROLLED_BACK_PATH = ".promoter/rolled-back.jsonl"
EVERYWHERE = "**"
_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.BRACE  # as promoter.yaml's paths


@dataclass(frozen=True, order=True)
class Hold:
    """An image held in the files that `path` (a glob) matches."""

    repository: str
    path: str = EVERYWHERE
    reason: str = ""
    since: str = ""  # when it was held, RFC 3339 (the commit adding the line says by whom)

    def covers(self, repository: str, path: str) -> bool:
        return repository == self.repository and glob.globmatch(path, self.path, flags=_GLOB_FLAGS)


@dataclass(frozen=True, order=True)
class RolledBack:
    """A digest of an image that a rollback removed: no event promotes it again."""

    repository: str
    digest: str
    build: str = ""  # the build that had promoted it
    reason: str = ""
    since: str = ""  # when it was rolled back, RFC 3339 (the commit adding the line says by whom)


@dataclass(frozen=True)
class Holds:
    """Every hold and every rolled-back digest of the config repo's tip."""

    holds: tuple[Hold, ...] = ()
    rolled_back: tuple[RolledBack, ...] = ()

    @classmethod
    def from_text(cls, holds: str | None, rolled_back: str | None = None) -> Holds:
        """Parse both files; a missing file holds nothing."""
        return cls(
            tuple(sorted(_read(holds, HOLDS_PATH, _hold))),
            tuple(sorted(_read(rolled_back, ROLLED_BACK_PATH, _rolled_back))),
        )

    def holding(self, repository: str, path: str) -> Hold | None:
        """The hold that keeps `repository` out of `path`, if any."""
        return next((h for h in self.holds if h.covers(repository, path)), None)

    def removed(self, repository: str, digest: str) -> RolledBack | None:
        """The rollback that removed this digest of `repository`, if any."""
        return next(
            (r for r in self.rolled_back if (r.repository, r.digest) == (repository, digest)),
            None,
        )

    def with_hold(self, hold: Hold) -> Holds:
        """Add `hold`, replacing one of the same image and glob."""
        kept = (h for h in self.holds if (h.repository, h.path) != (hold.repository, hold.path))
        return Holds(tuple(sorted([*kept, hold])), self.rolled_back)

    def without_holds(self, repository: str, path: str | None = None) -> Holds:
        """Release `repository`'s hold on the glob `path`, or all its holds."""
        kept = tuple(
            h
            for h in self.holds
            if h.repository != repository or (path is not None and h.path != path)
        )
        return Holds(kept, self.rolled_back)

    def of(self, repository: str) -> tuple[Hold, ...]:
        """`repository`'s holds."""
        return tuple(h for h in self.holds if h.repository == repository)

    def with_holds_of(self, repository: str, holds: Iterable[Hold]) -> Holds:
        """`repository`'s holds replaced by `holds` (the other images' are kept)."""
        kept = (h for h in self.holds if h.repository != repository)
        return Holds(tuple(sorted({*kept, *holds})), self.rolled_back)

    def with_rolled_back(self, records: Iterable[RolledBack]) -> Holds:
        known = {(r.repository, r.digest) for r in self.rolled_back}
        new = [r for r in records if (r.repository, r.digest) not in known]
        return Holds(self.holds, tuple(sorted([*self.rolled_back, *new])))

    def holds_text(self) -> str:
        return "".join(_line(h) for h in self.holds)

    def rolled_back_text(self) -> str:
        return "".join(_line(r) for r in self.rolled_back)


NO_HOLDS = Holds()


def _line(record: Hold | RolledBack) -> str:
    return json.dumps(asdict(record), separators=(",", ":"), ensure_ascii=False) + "\n"


def _read(text: str | None, path: str, make: Any) -> Iterator[Any]:
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            data = json.loads(line)
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise TypeError("expected an object of strings")
            yield make(data, where)
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{where}: expected a record ({_why(err)})") from None


def _hold(data: dict[str, str], where: str) -> Hold:
    hold = Hold(**data)
    if not hold.repository or not hold.path:
        raise ValueError("repository and path must not be empty")
    return hold


def _rolled_back(data: dict[str, str], where: str) -> RolledBack:
    record = RolledBack(**data)
    if not record.repository or not is_digest(record.digest):
        raise ValueError("expected a repository and a sha256 digest")
    return record


def _why(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"missing {err}"
    if isinstance(err, TypeError) and "unexpected keyword" in str(err):
        return f"unknown field {str(err).rsplit(' ', 1)[-1]}"
    return str(err).split("\n")[0]
