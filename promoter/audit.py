"""The promotion commit's message: the audit trail that `git log` shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from promoter.events import BuildEvent
from promoter.holds import EVERYWHERE, Hold, RolledBack

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


def rollback_message(
    repository: str,
    changes: Sequence[FileChange],
    *,
    removed: Sequence[RolledBack],
    undone: Sequence[str],
    reason: str,
    hold: Hold | None = None,
    skip_ci: bool = True,
) -> str:
    """A `promoter rollback` commit: what it removed, from which promotions, and why."""
    name = _short_name(repository)
    gone = ", ".join(f"{name}@{r.digest[7:19]}" for r in removed)
    back = ", ".join(dict.fromkeys(f"{name}@{c.new.rpartition(':')[2][:12]}" for c in changes))
    lines = [f"Rollback-Of: {sha}" for sha in undone]
    for record in removed:
        lines += [f"Removed-Image: {repository}@{record.digest}", f"Removed-Build: {record.build}"]
    lines += _hold_trailers("Hold", [hold] if hold else [])
    return _message(f"Roll back {gone} to {back}", reason, _changes(changes), lines, skip_ci)


def carry_message(
    target: str,
    source: str,
    changes: Sequence[FileChange],
    *,
    images: Sequence[tuple[str, str, str, str | None]],
    forced: Sequence[str] = (),
    skip_ci: bool = True,
) -> str:
    """A `promoter promote-env` commit; `images`: (repository, digest, build, source commit)."""
    names = ", ".join(f"{_short_name(r)}@{d[7:19]}" for r, d, _, _ in images)
    summary = f"From environment {source}" + (
        f", gates forced: {', '.join(forced)}." if forced else "."
    )
    lines = [f"Environment: {target}", f"From-Environment: {source}"]
    lines += [f"From-Commit: {c}" for c in dict.fromkeys(c for *_, c in images if c)]
    lines += [f"Build-Id: {b}" for b in dict.fromkeys(b for _, _, b, _ in images)]
    lines += [f"Image: {r}@{d}" for r, d, _, _ in images]
    lines += [f"Forced: {', '.join(forced)}"] if forced else []
    body = _changes(changes)
    return _message(
        f"Promote {names} to {target} (from {source})", "", summary + "\n\n" + body, lines, skip_ci
    )


def hold_message(hold: Hold, *, skip_ci: bool = True) -> str:
    """A `promoter hold` commit."""
    where = "" if hold.path == EVERYWHERE else f" in {hold.path}"
    subject = f"Hold {_short_name(hold.repository)}{where}"
    return _message(subject, hold.reason, "", _hold_trailers("Hold", [hold]), skip_ci)


def release_message(released: Sequence[Hold], *, skip_ci: bool = True) -> str:
    """A `promoter release` commit."""
    paths = ", ".join(h.path for h in released)
    subject = f"Release {_short_name(released[0].repository)} ({paths})"
    return _message(subject, "", "", _hold_trailers("Release", released), skip_ci)


def _hold_trailers(kind: str, holds: Sequence[Hold]) -> list[str]:
    lines = [f"{kind}: {repository}" for repository in dict.fromkeys(h.repository for h in holds)]
    return lines + [f"{kind}-Path: {h.path}" for h in holds]


def _message(subject: str, reason: str, body: str, trailers: list[str], skip_ci: bool) -> str:
    subject = subject if len(subject) <= _SUBJECT_MAX else subject[: _SUBJECT_MAX - 3] + "..."
    paragraphs = [_clean(subject)]
    paragraphs += [_clean(f"Reason: {reason}")] if reason else []
    paragraphs += [body] if body else []
    paragraphs += [SKIP_CI] if skip_ci else []
    paragraphs.append("\n".join(_clean(line) for line in trailers))
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
