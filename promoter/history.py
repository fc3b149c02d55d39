"""The deploy history: what the config repo's commits say was deployed, newest first.

Pure: it reads commits (id, time, author, message, changed paths, the image references a
commit's diff added) and says which deploys they are. A promotion names its build in its
trailers; a revert of a promotion ("This reverts commit <id>.", as `git revert` writes, or a
`Rollback-Of:` trailer) is a rollback of what that promotion deployed; a commit by a person that
added a digest-pinned image reference is a manual deploy.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from promoter.ledger import PATH as LEDGER_PATH

_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): (.+)$")
_REVERTS = re.compile(r"^This reverts commit ([0-9a-f]{40})\b", re.MULTILINE)


@dataclass(frozen=True)
class Commit:
    """One commit of the config repo, as the history reads it."""

    id: str
    time: int  # committer time, epoch seconds
    author: str
    message: str
    paths: tuple[str, ...]
    added_images: tuple[tuple[str, str], ...] = ()  # (repository, digest) its diff added
    parents: tuple[str, ...] = ()

    @cached_property
    def trailers(self) -> dict[str, list[str]]:
        """The trailers of the message's last paragraph (key -> values, in order)."""
        paragraphs = self.message.strip().split("\n\n")
        found: dict[str, list[str]] = {}
        for line in paragraphs[-1].splitlines() if len(paragraphs) > 1 else ():
            match = _TRAILER.match(line)
            if match:
                found.setdefault(match[1], []).append(match[2].strip())
        return found

    @property
    def reverts(self) -> str | None:
        """The commit this one reverts, if it says so."""
        rollback_of = self.trailers.get("Rollback-Of")
        if rollback_of:
            return rollback_of[0]
        match = _REVERTS.search(self.message)
        return match[1] if match else None


@dataclass(frozen=True)
class Deploy:
    """One image's change in one commit."""

    commit: str
    time: str
    kind: str
    image: str
    digest: str | None
    build_id: str | None
    source_commit: str | None
    paths: tuple[str, ...]
    author: str = ""  # in the table; the JSON keys are the issue's, without it

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["author"]
        return data | {"paths": list(self.paths)}


def deploys_of(commit: Commit, find: Mapping[str, Commit]) -> list[Deploy]:
    """The deploys `commit` made; `find` gives other commits by id (for what a revert undid)."""
    paths = tuple(p for p in commit.paths if p != LEDGER_PATH)
    when = datetime.fromtimestamp(commit.time, UTC).isoformat().replace("+00:00", "Z")
    trailers = commit.trailers
    if "Build-Id" in trailers and "Image" in trailers:
        return [
            Deploy(
                commit.id,
                when,
                "promotion",
                repository,
                digest,
                trailers["Build-Id"][0],
                next(iter(trailers.get("Source-Commit", [])), None),
                paths,
                commit.author,
            )
            for repository, _, digest in (image.partition("@") for image in trailers["Image"])
        ]
    if "Removed-Image" in trailers or "Hold" in trailers or "Release" in trailers:
        return _requested(commit, when, paths, find)
    undone = find.get(commit.reverts or "")
    if undone is not None:
        # What the reverted promotion deployed is what this commit removed.
        return [
            Deploy(
                commit.id,
                when,
                "rollback",
                d.image,
                d.digest,
                d.build_id,
                d.source_commit,
                paths,
                commit.author,
            )
            for d in deploys_of(undone, {})
            if d.kind == "promotion"
        ]
    return [
        Deploy(commit.id, when, "manual", repository, digest, None, None, paths, commit.author)
        for repository, digest in dict.fromkeys(commit.added_images)
    ]


def _requested(
    commit: Commit, when: str, paths: tuple[str, ...], find: Mapping[str, Commit]
) -> list[Deploy]:
    """The deploys of a `promoter rollback`, `hold` or `release` commit, from its trailers."""
    trailers = commit.trailers
    sources = {
        d.build_id: d.source_commit
        for sha in trailers.get("Rollback-Of", [])
        if sha in find
        for d in deploys_of(find[sha], {})
    }
    builds = trailers.get("Removed-Build", [])
    found = []
    for n, image in enumerate(trailers.get("Removed-Image", [])):
        repository, _, digest = image.partition("@")
        build = builds[n] if n < len(builds) and builds[n] != "-" else None
        found.append(
            Deploy(
                commit.id,
                when,
                "rollback",
                repository,
                digest or None,
                build,
                sources.get(build),
                paths,
                commit.author,
            )
        )
    for kind in ("Hold", "Release"):
        globs = tuple(trailers.get(f"{kind}-Path", []))
        found += [
            Deploy(commit.id, when, kind.lower(), image, None, None, None, globs, commit.author)
            for image in dict.fromkeys(trailers.get(kind, []))
        ]
    return found


def history(
    commits: Sequence[Commit],
    *,
    reverted: Mapping[str, Commit] | None = None,
    image: str | None = None,
    path: str | None = None,
    limit: int | None = None,
) -> list[Deploy]:
    """The deploys of `commits` (newest first), filtered by image repository and path glob.

    `reverted`: older commits that some of `commits` revert, to say what those rolled back.
    """
    by_id = {**(reverted or {}), **{c.id: c for c in commits}}
    found: list[Deploy] = []
    for commit in commits:
        for deploy in deploys_of(commit, by_id):
            if image is not None and deploy.image != image:
                continue
            if path is not None:
                matching = tuple(p for p in deploy.paths if fnmatch.fnmatchcase(p, path))
                if not matching:
                    continue
                deploy = replace(deploy, paths=matching)
            found.append(deploy)
            if limit is not None and len(found) >= limit:
                return found
    return found


def table(deploys: Iterable[Deploy]) -> str:
    """A plain table for people: time, kind, image@digest, build, source, commit, author, paths."""
    rows = [("TIME", "KIND", "IMAGE", "BUILD", "SOURCE", "COMMIT", "AUTHOR", "PATHS")]
    for d in deploys:
        short = f"{d.image.rsplit('/', 1)[-1]}@{(d.digest or '')[7:19]}" if d.digest else d.image
        rows.append(
            (
                d.time,
                d.kind,
                short,
                (d.build_id or "-")[:8],
                (d.source_commit or "-")[:12],
                d.commit[:12],
                d.author,
                ",".join(d.paths),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    )
