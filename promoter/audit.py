"""The promotion commit's message: the audit trail that `git log` shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from promoter.events import BuildEvent

SKIP_CI = "[skip ci]"
# Past this many changed references the body summarises the rest: the trailers still name every
# image, and the ledger (.promoter/ledger.jsonl) and `git show --stat` every file.
MAX_CHANGE_LINES = 200
_SUBJECT_MAX = 72
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


@dataclass(frozen=True)
class FileChange:
    """One image reference changed in one file."""

    path: str
    repository: str
    old: str
    new: str


def commit_message(
    event: BuildEvent, changes: Sequence[FileChange], *, skip_ci: bool = True
) -> str:
    """Render subject, body and trailers; every outside value is forced onto one line."""
    paragraphs = [_subject(event), _summary(event), _changes(changes)]
    if skip_ci:
        paragraphs.append(SKIP_CI)
    paragraphs.append(_trailers(event))
    return "\n\n".join(paragraphs) + "\n"


def _subject(event: BuildEvent) -> str:
    names = ", ".join(f"{_short_name(i.repository)}@{i.short_digest}" for i in event.images)
    subject = f"Promote {names} (build {event.build_id[:8]})"
    if len(subject) > _SUBJECT_MAX:
        subject = f"Promote {len(event.images)} images (build {event.build_id[:8]})"
    return _clean(subject)


def _summary(event: BuildEvent) -> str:
    facts = [f"project {event.project_id}" if event.project_id else None]
    facts.append(f"trigger {event.trigger_name}" if event.trigger_name else None)
    facts.append(f"branch {event.branch}" if event.branch else None)
    facts.append(f"source {event.source_commit[:12]}" if event.source_commit else None)
    known = ", ".join(f for f in facts if f)
    return _clean(f"Cloud Build {event.build_id}" + (f" ({known})" if known else "") + ".")


def _changes(changes: Sequence[FileChange]) -> str:
    lines = []
    for change in changes[:MAX_CHANGE_LINES]:
        old, new = _brief(change.old, change.repository), _brief(change.new, change.repository)
        lines.append(_clean(f"- {change.path}: {old} -> {new}"))
    rest = changes[MAX_CHANGE_LINES:]
    if rest:
        shown = {change.path for change in changes[:MAX_CHANGE_LINES]}
        files = len({change.path for change in rest} - shown)
        lines.append(f"- and {len(rest)} more references ({files} more files)")
    return "\n".join(lines)


def _trailers(event: BuildEvent) -> str:
    lines = [f"Build-Id: {event.build_id}"]
    if event.create_time is not None:
        lines.append(f"Build-Create-Time: {event.create_time.text}")
    lines.extend(f"Image: {i.repository}@{i.digest}" for i in event.images)
    if event.source_commit:
        lines.append(f"Source-Commit: {event.source_commit}")
    if event.log_url:
        lines.append(f"Build-Log: {event.log_url}")
    return "\n".join(_clean(line) for line in lines)


def _brief(reference: str, repository: str) -> str:
    """`web:v2@sha256:6f1d0b8a3c9e` for a full reference: the trailers carry the rest."""
    brief = _short_name(repository) + reference.removeprefix(repository)
    name, sep, digest = brief.partition("@sha256:")
    return f"{name}{sep}{digest[:12]}"


def _short_name(repository: str) -> str:
    return repository.rsplit("/", 1)[-1]


def _clean(text: str) -> str:
    return _UNSAFE.sub(" ", text)
