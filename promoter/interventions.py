"""What a person asks of the config repo: roll an image back, hold it, release it.

Each is one commit on a fresh tip, pushed fast-forward and retried like a promotion
(`service.apply`), so holds and rollbacks are audited in `git log` and shared by every instance.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from promoter import ledger as ledger_file
from promoter.audit import hold_message, release_message, rollback_message
from promoter.errors import ConfigError, NothingToDo
from promoter.githistory import Commits
from promoter.gitrepo import Workspace
from promoter.history import Commit
from promoter.holds import EVERYWHERE, HOLDS_PATH, ROLLED_BACK_PATH, Hold, Holds
from promoter.ledger import Ledger
from promoter.pinning import helm_targets
from promoter.proposing import Heads, Proposals, intervention
from promoter.pullrequests import intervention_branch
from promoter.rollback import restore
from promoter.service import (
    Proposal,
    Result,
    apply,
    file_text,
    read_policy,
    read_state,
    read_texts,
)
from promoter.settings import Settings
from promoter.yamlcheck import check_glob, check_repository

_MIN_PREFIX = 7  # --to-commit: as short as `git log --oneline` shows


def hold(settings: Settings, *, image: str, path: str | None, reason: str) -> Result:
    """Hold `image` in the files `path` matches (everywhere by default)."""
    check_repository(image, "--image")
    new = Hold(image, path or EVERYWHERE, reason, _now())
    check_glob(new.path, "--path")

    def decide(workspace: Workspace, tip: str) -> Proposal:
        stand = _holds_of(workspace, tip, settings, image)
        if new.path in {h.path for h in stand.now}:
            return Proposal(Result("unchanged", f"{image} is already held in {new.path}"))
        held = [h for h in stand.now if h.path != new.path]
        result = Result("held", f"{image} held in {new.path}")
        message = hold_message(new, skip_ci=settings.skip_ci)
        return stand.proposal([*held, new], result, message, closing=True)

    return apply(decide, settings)


def release(settings: Settings, *, image: str, path: str | None) -> Result:
    """Release `image`'s hold on `path`, or every hold of `image`."""
    check_repository(image, "--image")

    def decide(workspace: Workspace, tip: str) -> Proposal:
        stand = _holds_of(workspace, tip, settings, image)
        released = [h for h in stand.now if path in (None, h.path)]
        if not released:
            where = f" in {path}" if path else ""
            return Proposal(Result("unchanged", f"{image} is not held{where}"))
        kept = [h for h in stand.now if h not in released]
        paths = ", ".join(h.path for h in released)
        result = Result("released", f"{image} released in {paths}")
        message = release_message(released, skip_ci=settings.skip_ci)
        return stand.proposal(kept, result, message, closing=False)

    return apply(decide, settings)


@dataclass(frozen=True)
class _Standing:
    """How one image's holds stand: the tip's holds file, the image's holds now, and our head
    branches in pull-request mode (there, a hold or release still waiting in the image's open
    holds pull request is how things stand: the next one builds on it)."""

    image: str
    tip_holds: Holds
    now: tuple[Hold, ...]
    heads: Heads | None

    def proposal(
        self, wanted: list[Hold], result: Result, message: str, *, closing: bool
    ) -> Proposal:
        """The image held as `wanted` says: one commit on the tip, or its holds pull request;
        `closing`: that also closes the image's promotion pull request."""
        text = self.tip_holds.with_holds_of(self.image, wanted).holds_text()
        files = {HOLDS_PATH: text.encode()}
        if self.heads is None:
            return Proposal(result, files, message)
        as_tip = set(wanted) == set(self.tip_holds.of(self.image))  # nothing left to propose
        proposals = intervention(
            self.heads,
            repository=self.image,
            kind="holds",
            files={} if as_tip else files,
            message=message,
            close_promotion=closing,
        )
        return _proposed(result, proposals)


def _holds_of(workspace: Workspace, tip: str, settings: Settings, image: str) -> _Standing:
    holds = _holds(workspace, tip)
    write = read_policy(workspace, tip, settings).write
    if not write.proposes:
        return _Standing(image, holds, holds.of(image), None)
    heads = Heads(workspace, settings, write)
    pending = heads.pending(intervention_branch(heads.base, image, "holds"))
    now = holds.of(image) if pending is None else _holds(workspace, pending).of(image)
    return _Standing(image, holds, now, heads)


def _proposed(result: Result, proposals: Proposals) -> Proposal:
    """`result` as a pull request (outcome `proposed`); where a pending pull request is only
    withdrawn, as it is."""
    if not proposals.branches:
        withdrawn = replace(result, reason=f"{result.reason} (its pull request withdrawn)")
        return Proposal(withdrawn, proposals=proposals)
    reason = f"{result.reason}: proposed on {proposals.branches[0].head}"
    return Proposal(replace(result, outcome="proposed", reason=reason), proposals=proposals)


def rollback(
    settings: Settings,
    *,
    image: str,
    to_build: str | None = None,
    to_commit: str | None = None,
    hold_too: bool = False,
    reason: str = "",
) -> Result:
    """Give `image`'s targets the digests they held before its latest promotion (or at a build
    or commit), as one new commit; optionally hold the image there."""
    check_repository(image, "--image")
    if to_commit is not None and not _is_prefix(to_commit):
        raise ConfigError(
            f"--to-commit: expected a commit id (7 to 40 hex digits), got {to_commit!r}"
        )

    def decide(workspace: Workspace, tip: str) -> Proposal:
        return _rollback_at(
            workspace, tip, settings, image, to_build, to_commit, hold_too=hold_too, reason=reason
        )

    return apply(decide, settings)


def _rollback_at(
    workspace: Workspace,
    tip: str,
    settings: Settings,
    image: str,
    to_build: str | None,
    to_commit: str | None,
    *,
    hold_too: bool,
    reason: str,
) -> Proposal:
    ledger, holds = read_state(workspace, tip)
    targets = sorted(workspace.manifests_naming(tip, {image}))
    if not targets:
        raise NothingToDo(f"nothing to roll back: no manifest on {tip[:12]} names {image}")
    then, paths = _state_to_restore(workspace, tip, image, ledger, targets, to_build, to_commit)
    earlier = {b.path: b for b in workspace.blobs(then, [*paths, ledger_file.PATH])}
    when = _now()
    policy = read_policy(workspace, tip, settings)
    done = restore(
        image,
        now=read_texts(workspace, tip, paths),
        helm={path: helm_targets(policy, path, {image}) for path in paths},
        then=read_texts(workspace, then, [p for p in paths if p in earlier]),
        ledger=ledger,
        ledger_then=Ledger.from_text(file_text(workspace, earlier, ledger_file.PATH)),
        reason=reason,
        when=when,
    )
    if not done.changes:
        why = "".join(f"; {s}" for s in done.skipped)
        raise NothingToDo(
            f"nothing to roll back: the files naming {image} already hold what they held at"
            f" {then[:12]}{why}"
        )
    files = {path: text.encode() for path, text in done.files.items()}
    holds = holds.with_rolled_back(done.removed)
    files[ROLLED_BACK_PATH] = holds.rolled_back_text().encode()
    new_hold = Hold(image, EVERYWHERE, reason, when) if hold_too else None
    if new_hold is not None:
        files[HOLDS_PATH] = holds.with_hold(new_hold).holds_text().encode()
    undone = _promotions_of(workspace, tip, image, {r.build for r in done.removed})
    message = rollback_message(
        image,
        done.changes,
        removed=done.removed,
        undone=undone,
        reason=reason,
        hold=new_hold,
        skip_ci=settings.skip_ci,
    )
    said = "".join(f"; skipped {s}" for s in done.skipped)
    held = f"; {image} held" if new_hold else ""
    result = Result(
        "rolled-back",
        f"restored {image} as of {then[:12]} in {len({c.path for c in done.changes})} file(s)"
        f"{held}{said}",
        changes=done.changes,
        warning=bool(done.skipped),
    )
    if not policy.write.proposes:
        return Proposal(result, files, message)
    heads = Heads(workspace, settings, policy.write)
    proposals = intervention(
        heads,
        repository=image,
        kind="rollback",
        files=files,
        message=message,
        changes=done.changes,
        close_promotion=True,
    )
    return _proposed(result, proposals)


def _state_to_restore(
    workspace: Workspace,
    tip: str,
    image: str,
    ledger: Ledger,
    targets: list[str],
    to_build: str | None,
    to_commit: str | None,
) -> tuple[str, list[str]]:
    """The commit whose state to restore, and the files to restore from it."""
    if to_commit is not None:
        found = _find(workspace, tip, lambda c: c.id.startswith(to_commit.lower()))
        if found is None:
            raise NothingToDo(f"--to-commit {to_commit}: not a commit of {_branch(workspace)}")
        return found.id, targets
    if to_build is not None:
        found = _find(workspace, tip, lambda c: _promotes(c, image, to_build))
        if found is None:
            raise NothingToDo(
                f"--to-build {to_build}: no commit of {_branch(workspace)} promoted {image}"
                " from that build"
            )
        return found.id, targets
    records = [r for p in targets if (r := ledger.get((p, image))) is not None]
    if not records:
        raise NothingToDo(f"nothing to roll back: the ledger records no promotion of {image}")
    latest = max(records, key=lambda r: (r.create_time, r.build_id))
    found = _find(workspace, tip, lambda c: _promotes(c, image, latest.build_id), parent=True)
    if found is None:
        raise NothingToDo(
            f"nothing to roll back: build {latest.build_id}'s promotion of {image} is not in the"
            f" history of {_branch(workspace)}"
        )
    if not found.parents:
        raise NothingToDo(f"nothing to roll back to: {found.id[:12]} is the first commit")
    return found.parents[0], [p for p in targets if p in found.paths]


def _find(
    workspace: Workspace, tip: str, wanted: Callable[[Commit], bool], *, parent: bool = False
) -> Commit | None:
    """The newest commit of `tip` that is `wanted`, deepening a shallow workspace as needed.

    `parent`: also read one commit further, so that its parent is in the workspace.
    """

    def enough(found: Commits) -> bool:
        commits = found[0]
        index = next((i for i, c in enumerate(commits) if wanted(c)), None)
        return index is not None and (not parent or index + 1 < len(commits))

    commits, _ = workspace.history(tip, enough=enough)
    return next((c for c in commits if wanted(c)), None)


def _promotions_of(
    workspace: Workspace, tip: str, image: str, builds: Collection[str]
) -> list[str]:
    """The newest promotion commit of each of `builds` for `image` (read, not fetched)."""
    wanted = set(builds) - {""}
    found: dict[str, str] = {}

    def enough(commits: Commits) -> bool:
        for commit in commits[0]:
            for build in wanted - found.keys():
                if _promotes(commit, image, build):
                    found[build] = commit.id
        return found.keys() >= wanted

    if wanted:
        workspace.history(tip, enough=enough)
    return list(dict.fromkeys(found[b] for b in sorted(found)))


def _promotes(commit: Commit, image: str, build: str) -> bool:
    trailers = commit.trailers
    images = (value.partition("@")[0] for value in trailers.get("Image", []))
    return trailers.get("Build-Id") == [build] and image in images


def _holds(workspace: Workspace, tip: str) -> Holds:
    return read_state(workspace, tip)[1]


def _branch(workspace: Workspace) -> str:
    return f"branch {workspace.remote.branch!r}"


def _is_prefix(text: str) -> bool:
    return _MIN_PREFIX <= len(text) <= 40 and all(c in "0123456789abcdefABCDEF" for c in text)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
