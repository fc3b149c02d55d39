"""The workspace's history as `promoter.history` reads it: commits newest first, with what each
changed, fetched deeper while a shallow workspace has too few."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from promoter.gitdir import GitDir
from promoter.gittransport import Transport
from promoter.history import Commit
from promoter.images import Reference
from promoter.manifests import MANIFEST_PATHSPECS, is_manifest

_FIRST_WINDOW = 100  # commits read (and fetched, if missing) the first time; then 4 times more
Commits = tuple[list[Commit], dict[str, Commit]]  # newest first; and commits they revert
_ADDED_IMAGE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._/:-]*[A-Za-z0-9])@(sha256:[0-9a-f]{64})")
# Lines of context around each change: enough to hold a kustomize entry's `name:` and `newName:`
# above the `digest:` a person changed.
_CONTEXT = 3
_NAME_FIELD = re.compile(r"\s*(?:-\s+)?(name|newName|repository):\s*[\"']?([^\"'\s#]+)")
_DIGEST_FIELD = re.compile(r"\s*(?:-\s+)?digest:\s*[\"']?(sha256:[0-9a-f]{64})\b")
_SHOW_BATCH = 500  # commits per `git show`: well under any command line's limit


class HistoryReader(GitDir):
    """Read commits of the workspace's tip; deepen through `transport` when asked for more."""

    def commits(
        self, tip: str, transport: Transport, *, enough: Callable[[Commits], bool]
    ) -> Commits:
        """The commits of `tip`, newest first, until `enough` says so or history is whole.

        Read a window at a time; a shallow workspace is deepened when the window reaches its
        boundary. With them, the commits outside the window that those in it revert.
        """
        count = _FIRST_WINDOW
        while True:
            window = self._read([f"--max-count={count}", tip])
            reverted = {c.reverts for c in window} - {c.id for c in window} - {None}
            found = (window, self._by_id(sorted(r for r in reverted if r)))
            if enough(found):
                return found
            if len(window) < count and not transport.deepen(count):
                return found  # the whole history is here and was read
            count *= 4

    def _by_id(self, shas: list[str]) -> dict[str, Commit]:
        """Commits named by id that the workspace has (a shallow one may lack some)."""
        if not shas:
            return {}
        return {c.id: c for c in self._read(["--ignore-missing", "--no-walk=unsorted", *shas])}

    def _read(self, revisions: list[str]) -> list[Commit]:
        out = self._git(
            "log", "-z", "--format=%x1e%H%x1f%P%x1f%ct%x1f%an <%ae>%x1f%B%x1f", "--name-only",
            *revisions,
        )  # fmt: skip
        commits = []
        for chunk in out.split("\x1e")[1:]:
            sha, parents, when, author, message, names = chunk.split("\x1f", 5)
            paths = tuple(name.strip("\n") for name in names.split("\0") if name.strip("\n"))
            parent_ids = tuple(parents.split())
            commits.append(Commit(sha, int(when), author, message, paths, (), parent_ids))
        manual = [c.id for c in commits if _may_be_manual(c)]
        added = self._added_images(manual) if manual else {}
        return [replace(c, added_images=added[c.id]) if c.id in added else c for c in commits]

    def _added_images(self, shas: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        """Digest-pinned image references each commit's diff added to a manifest."""
        added: dict[str, tuple[tuple[str, str], ...]] = {}
        for start in range(0, len(shas), _SHOW_BATCH):
            out = self._git(
                "show", f"-U{_CONTEXT}", "--no-color", "--no-ext-diff", "--format=%x1e%H",
                *shas[start : start + _SHOW_BATCH], "--", *MANIFEST_PATHSPECS,
            )  # fmt: skip
            for chunk in out.split("\x1e")[1:]:
                sha, _, diff = chunk.partition("\n")
                pairs = _added_in(diff.splitlines())
                if pairs:
                    added[sha] = tuple(pairs)
        return added


def _added_in(diff: list[str]) -> list[tuple[str, str]]:
    """(repository, digest) pairs the diff's added lines pin: `repo@sha256:...` in one line, or
    a `digest:` field under the `name`/`newName` (kustomize) or `repository` (Helm values) that
    the lines just before it give."""
    pairs = []
    names: dict[str, str] = {}
    for line in diff:
        if line.startswith(("@@", "diff ", "---", "+++")):
            names = {}
            continue
        if line.startswith("-"):
            continue
        text = line[1:]
        field = _NAME_FIELD.match(text)
        if field:
            if field[1] == "name" or text.lstrip().startswith("- "):
                names = {}  # a new kustomize entry
            names[field[1]] = field[2]
        if not line.startswith("+"):
            continue
        pairs += [p for m in _ADDED_IMAGE.finditer(text) if (p := _pinned(m[1], m[2]))]
        digest = _DIGEST_FIELD.match(text)
        name = names.get("newName") or names.get("repository") or names.get("name")
        if digest and name and (pair := _pinned(name, digest[1])):
            pairs.append(pair)
    return pairs


def _pinned(reference: str, digest: str) -> tuple[str, str] | None:
    try:
        return Reference.parse(reference).repository, digest
    except ValueError:
        return None


def _may_be_manual(commit: Commit) -> bool:
    trailers = commit.trailers
    if "Build-Id" in trailers or commit.reverts:
        return False
    return any(is_manifest(path) for path in commit.paths)
