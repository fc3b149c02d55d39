"""Carry what one environment runs into the next, by the same digest, behind its gates. Pure.

The source environment's digests come from the ledger (which build each of its files got); the
target environment's files that name those images are pinned to the same digests, and their
ledger records name the original build, so that an older build never lands over a newer one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from promoter import ledger as ledger_file
from promoter.audit import FileChange
from promoter.environments import Environment
from promoter.errors import ManifestError
from promoter.helmvalues import Targets
from promoter.holds import Holds
from promoter.images import ImageRef
from promoter.ledger import Ledger, Record
from promoter.pinning import FileSites


@dataclass(frozen=True)
class Source:
    """An image as the source environment runs it, and the commit that promoted it there."""

    record: Record
    tag: str | None
    commit: str | None  # None: not found in the history read
    committed_at: int | None  # epoch seconds


@dataclass(frozen=True)
class Gate:
    """A gate that is not met: which, for which image, and when it could pass."""

    name: str  # soak, healthy, held, rolled back
    repository: str
    why: str


@dataclass(frozen=True)
class Carried:
    """New texts (the target's files and the ledger) and the changes."""

    files: Mapping[str, str]
    changes: tuple[FileChange, ...]
    skipped: tuple[str, ...]


def sources(
    ledger: Ledger, environment: Environment, images: Collection[str] | None = None
) -> dict[str, Record]:
    """The newest ledger record of each image in `environment` (only `images`, if given)."""
    newest: dict[str, Record] = {}
    for (path, repository), record in sorted(ledger.records.items()):
        if not environment.covers(path) or (images is not None and repository not in images):
            continue
        known = newest.get(repository)
        if known is None or (record.create_time, record.build_id) > (
            known.create_time,
            known.build_id,
        ):
            newest[repository] = record
    return newest


def gates(
    target: Environment,
    found: Mapping[str, Source],
    *,
    holds: Holds,
    target_paths: Collection[str],
    now: int,
) -> list[Gate]:
    """The gates of `target` that its sources do not meet yet (Argo CD's are checked apart)."""
    closed = []
    for repository, source in sorted(found.items()):
        digest = source.record.digest
        removed = holds.removed(repository, digest)
        if removed is not None:
            closed.append(Gate("rolled back", repository, f"{digest} was rolled back"))
        held = [h for p in target_paths if (h := holds.holding(repository, p)) is not None]
        if held:
            why = f" ({held[0].reason})" if held[0].reason else ""
            closed.append(Gate("held", repository, f"held in {held[0].path}{why}"))
        if target.soak_seconds and source.committed_at is None:
            closed.append(Gate("soak", repository, "its promotion commit was not found"))
        elif source.committed_at is not None:
            left = source.committed_at + target.soak_seconds - now
            if left > 0:
                closed.append(Gate("soak", repository, f"soaking: {_duration(left)} left"))
    return closed


def carry(
    found: Mapping[str, Source],
    *,
    files: Mapping[str, str],
    ledger: Ledger,
    helm: Mapping[str, Targets] | None = None,
) -> Carried:
    """Pin each source image in `files` (the target environment's, path -> text); `helm`: by
    path, the Helm values targets there."""
    images = {
        repository: ImageRef(repository, s.record.digest, s.tag) for repository, s in found.items()
    }
    new_files: dict[str, str] = {}
    changes: list[FileChange] = []
    skipped: list[str] = []
    records = []
    for path in sorted(files):
        fresh = {
            repository: image
            for repository, image in images.items()
            if _is_fresh(ledger.get((path, repository)), found[repository].record)
        }
        try:
            read = FileSites.read(files[path], fresh, path=path, helm=(helm or {}).get(path, {}))
            text, pinned = read.pin(fresh, text=files[path])
        except ManifestError as err:
            skipped.append(str(err))
            continue
        if pinned:
            new_files[path] = text
            changes += [FileChange(path, c.repository, c.old, c.new) for c in pinned]
            records += [_moved(found[c.repository].record, path) for c in pinned]
    if changes:
        new_files[ledger_file.PATH] = ledger.with_records(records).to_text()
    return Carried(new_files, tuple(changes), tuple(skipped))


def _is_fresh(current: Record | None, source: Record) -> bool:
    """The target has no record, or an older build's (never an older build over a newer)."""
    if current is None:
        return True
    return (current.create_time, current.build_id) < (source.create_time, source.build_id)


def _moved(record: Record, path: str) -> Record:
    return Record(path, record.repository, record.build_id, record.create_time, record.digest)


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s"]
    return "".join(parts) if secs else "".join(parts[:2]) or "0s"
