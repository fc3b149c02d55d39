"""Pull-request mode: a build's promotion proposed on a head branch of ours, one pull request
per base branch and image repository, instead of a push to the protected branch.

Each image's commit is built on the base branch's tip, with the same message, trailers and
ledger as a push, and set on `promoter/<base>/<repository>` with a lease (only our own head
branches are ever forced; the base never is). A newer build replaces that commit and updates
the same pull request; an older one changes nothing; after a merge, the next build opens a new
pull request on the merged state. A person's hold, release or rollback is proposed the same way,
on a head branch of its own beside the image's (`intervention`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING

from promoter import ledger as ledger_file
from promoter.audit import FileChange, commit_message
from promoter.events import BuildEvent
from promoter.forge import Forge, connect, ensure
from promoter.gitrepo import Workspace
from promoter.holds import Hold
from promoter.ledger import Ledger
from promoter.plan import Outcome
from promoter.pullrequests import (
    HEAD_PREFIX,
    INTERVENTIONS,
    Intervention,
    PullRequest,
    WriteMode,
    describe,
    head_branch,
    intervention_branch,
)
from promoter.settings import Settings

if TYPE_CHECKING:
    from promoter.service import Reading


@dataclass(frozen=True)
class BranchWrite:
    """One proposal: the commit to set on its head branch (if any), and its pull request."""

    head: str
    expected: str | None  # the head branch's tip now (None: it does not exist): the lease
    files: Mapping[str, bytes] = field(default_factory=dict)  # empty: the head is up to date
    message: str = ""  # the commit's, and the pull request's title and body (`describe`)


@dataclass(frozen=True)
class Proposals:
    """What to propose: a branch write per image (or intervention), the pull requests to close,
    and the forge to ask."""

    write: WriteMode
    branches: tuple[BranchWrite, ...]
    changes: tuple[FileChange, ...] = ()
    skipped: tuple[str, ...] = ()
    close: tuple[str, ...] = ()  # head branches whose open pull request is to be closed


OVERTAKEN_ATTEMPTS = 3  # a head replaced under us this often in a row: the last one describes it


class Heads:
    """The promoter's head branches into one base on the remote: listed once per attempt, each
    fetched when read; the forge is asked whether one's pull request is open only where that
    decides something (a pending hold)."""

    def __init__(self, workspace: Workspace, settings: Settings, write: WriteMode) -> None:
        self.base = settings.remote.branch
        self.workspace = workspace
        self.write = write
        self.tips = workspace.branch_tips(f"{HEAD_PREFIX}{self.base}/")
        self._forge: Callable[[], Forge] = cache(
            lambda: connect(write, api=settings.forge_api, token=settings.forge_token)
        )

    def fetched(self, name: str) -> str | None:
        """The tip of head branch `name`, fetched into the workspace; None: there is none."""
        return self.workspace.fetch_branch(name) if name in self.tips else None

    def is_open(self, name: str) -> bool:
        """True when head branch `name` has an open pull request into the base."""
        return self._forge().find_open(base=self.base, head=name) is not None

    def pending(self, name: str) -> str | None:
        """The tip of head branch `name`, fetched, while its pull request is open; else None."""
        commit = self.fetched(name)
        return commit if commit is not None and self.is_open(name) else None

    def pending_holds(self, repository: str, kinds: tuple[Intervention, ...]) -> set[Hold]:
        """`repository`'s holds on the branches of its open hold or rollback pull requests."""
        from promoter.service import read_state

        found: set[Hold] = set()
        for kind in kinds:
            name = intervention_branch(self.base, repository, kind)
            commit = self.fetched(name)
            if commit is None:
                continue
            holds = read_state(self.workspace, commit)[1].of(repository)
            if holds and self.is_open(name):
                found.update(holds)
        return found


def propose(
    workspace: Workspace, tip: str, event: BuildEvent, settings: Settings, reading: Reading
) -> Proposals | tuple[Outcome, str]:
    """Each image of `event` as a head branch write, or the outcome and why nothing is to be
    proposed.

    Planned per image on what was read once; a hold or a rollback with hold still waiting in
    its pull request holds the image already (a pending release does not release it yet).
    """
    heads = Heads(workspace, settings, reading.policy.write)
    writes: list[BranchWrite] = []
    changes: list[FileChange] = []
    said: list[str] = []
    ignored = 0  # images the plan ignored (held, rolled back, left out by the policy)
    for image in event.images:
        alone = replace(event, images=(image,))
        holds = reading.holds
        if pending := heads.pending_holds(image.repository, INTERVENTIONS):
            holds = holds.with_holds_of(image.repository, {*holds.of(image.repository), *pending})
        decided = reading.plan(alone, holds=holds)
        if decided.outcome != "promoted":
            ignored += decided.outcome == "ignored"
            alone_said = len(event.images) == 1
            said.append(decided.reason if alone_said else f"{image.repository}: {decided.reason}")
            continue
        head = head_branch(heads.base, image.repository)
        expected = heads.fetched(head)
        state = _head_state(workspace, tip, expected, alone, decided.changes)
        if state == "newer":
            said.append(f"{image.repository}: its pull request holds a newer build")
            continue
        files = {} if state == "current" else {p: t.encode() for p, t in decided.files.items()}
        message = commit_message(alone, decided.changes, skip_ci=settings.skip_ci)
        writes.append(BranchWrite(head, expected, files, message))
        changes += decided.changes
    if not writes:
        outcome: Outcome = "ignored" if ignored == len(event.images) else "unchanged"
        return outcome, "; ".join(said) or "nothing to propose"
    return Proposals(reading.policy.write, tuple(writes), tuple(changes), tuple(said))


def intervention(
    heads: Heads,
    *,
    repository: str,
    kind: Intervention,
    files: Mapping[str, bytes],
    message: str,
    changes: tuple[FileChange, ...] = (),
    close_promotion: bool = False,
) -> Proposals:
    """A person's hold, release or rollback of `repository` as a pull request on its own head
    branch, built on the base's tip. No files: nothing is left to propose, and its pending pull
    request is closed. `close_promotion`: also close the image's open promotion pull request
    (a hold or a rollback must not leave a newer build one click from merging)."""
    name = intervention_branch(heads.base, repository, kind)
    if not files:
        return Proposals(heads.write, (), changes, close=(name,))
    branch = BranchWrite(name, heads.tips.get(name), files, message)
    promotion = (head_branch(heads.base, repository),) if close_promotion else ()
    return Proposals(heads.write, (branch,), changes, close=promotion)


def open_pull_requests(
    workspace: Workspace, tip: str, proposals: Proposals, settings: Settings
) -> tuple[str | None, tuple[PullRequest, ...], tuple[PullRequest, ...]]:
    """Commit and set each head branch (leased), then ensure its pull request; close those to
    close. The last commit made, the pull requests (in order) and those closed."""
    forge: Forge = connect(proposals.write, api=settings.forge_api, token=settings.forge_token)
    base = settings.remote.branch
    made, found, closed = None, [], []
    for branch in proposals.branches:
        mine = None
        if branch.files:
            mine = made = workspace.commit(
                tip, branch.files, message=branch.message, identity=settings.identity
            )
            workspace.push_branch(made, branch.head, expected=branch.expected)
        pr = _ensure(workspace, forge, base, branch.head, branch.message, mine)
        if proposals.write.auto_merge:
            pr = replace(pr, auto_merge=forge.enable_auto_merge(pr))
        found.append(pr)
    for head in proposals.close:
        pending = forge.find_open(base=base, head=head)
        if pending is not None:
            forge.close(pending)
            closed.append(pending)
    return made, tuple(found), tuple(closed)


def _ensure(
    workspace: Workspace, forge: Forge, base: str, head: str, message: str, made: str | None
) -> PullRequest:
    """The pull request of `head`, titled and described from its commit's message.

    Where a newer build's instance set the head after our push and before our title (the lease
    lets it: the head is ours to replace), the head's own commit is described again, so the
    pull request never says a build that its branch does not hold.
    """
    for _ in range(OVERTAKEN_ATTEMPTS):
        title, body = describe(base, message)
        pr = ensure(forge, base=base, head=head, title=title, body=body)
        now = workspace.branch_tips(head).get(head)
        if made is None or now is None or now == made:
            return pr
        made = workspace.fetch_branch(head)
        message = workspace.message(made)
    return pr


def _head_state(
    workspace: Workspace,
    tip: str,
    head: str | None,
    event: BuildEvent,
    changes: tuple[FileChange, ...],
) -> str | None:
    """`newer`: the head branch holds a newer build for these targets; `current`: it holds
    this build in one commit on the base's tip already (its parent is read from the commit:
    the head is fetched one commit deep); None: it must be (re)written."""
    if head is None:
        return None
    blob = next(iter(workspace.blobs(head, [ledger_file.PATH])), None)
    ledger = Ledger.from_text(workspace.read(blob).decode() if blob else None)
    records = [ledger.get((c.path, c.repository)) for c in changes]
    if any(r is not None and r.is_newer_than(event) for r in records):
        return "newer"
    same = all(r is not None and r.build_id == event.build_id for r in records)
    return "current" if same and workspace.parents(head) == [tip] else None
