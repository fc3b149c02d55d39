"""Pull-request mode: a build's promotion proposed on a head branch of ours, one pull request
per base branch and image repository, instead of a push to the protected branch.

Each image's commit is built on the base branch's tip, with the same message, trailers and
ledger as a push, and set on `promoter/<base>/<repository>` with a lease (only our own head
branches are ever forced; the base never is). A newer build replaces that commit and updates
the same pull request; an older one changes nothing; after a merge, the next build opens a new
pull request on the merged state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from promoter import ledger as ledger_file
from promoter.audit import FileChange, commit_message
from promoter.events import BuildEvent
from promoter.forge import Forge, connect, ensure
from promoter.gitrepo import Workspace
from promoter.ledger import Ledger
from promoter.plan import Plan
from promoter.policy import Policy
from promoter.pullrequests import PullRequest, WriteMode, body, head_branch, title
from promoter.settings import Settings

PlanAt = Callable[[Workspace, str, BuildEvent, Settings], tuple[Plan, Policy]]


@dataclass(frozen=True)
class BranchWrite:
    """One image's proposal: the commit to set on its head branch (if any), and its PR."""

    head: str
    expected: str | None  # the head branch's tip now (None: it does not exist): the lease
    files: Mapping[str, bytes] = field(default_factory=dict)  # empty: the head is up to date
    message: str = ""
    title: str = ""
    body: str = ""


@dataclass(frozen=True)
class Proposals:
    """What a build proposes: a branch write per image, and the forge to ask."""

    write: WriteMode
    branches: tuple[BranchWrite, ...]
    changes: tuple[FileChange, ...]
    skipped: tuple[str, ...]


def propose(
    workspace: Workspace, tip: str, event: BuildEvent, settings: Settings, *, plan_at: PlanAt
) -> Proposals | str:
    """Each image of `event` as a head branch write, or why nothing is to be proposed."""
    base = settings.remote.branch
    writes: list[BranchWrite] = []
    changes: list[FileChange] = []
    said: list[str] = []
    write = WriteMode()
    for image in event.images:
        alone = replace(event, images=(image,))
        decided, policy = plan_at(workspace, tip, alone, settings)
        write = policy.write
        if decided.outcome != "promoted":
            said.append(f"{image.repository}: {decided.reason}")
            continue
        head = head_branch(base, image.repository)
        expected = workspace.branch_tip(head)
        state = _head_state(workspace, tip, expected, alone, decided.changes)
        if state == "newer":
            said.append(f"{image.repository}: its pull request holds a newer build")
            continue
        files = {} if state == "current" else {p: t.encode() for p, t in decided.files.items()}
        facts = {"base": base, "repository": image.repository, "digest": image.digest}
        writes.append(
            BranchWrite(
                head,
                expected,
                files,
                commit_message(alone, decided.changes, skip_ci=settings.skip_ci),
                title(**facts),
                body(**facts, build=event.build_id, changes=decided.changes),
            )
        )
        changes += decided.changes
    if not writes:
        return "; ".join(said) or "nothing to propose"
    return Proposals(write, tuple(writes), tuple(changes), tuple(said))


def open_pull_requests(
    workspace: Workspace, tip: str, proposals: Proposals, settings: Settings
) -> tuple[str | None, tuple[PullRequest, ...]]:
    """Commit and set each head branch (leased), then ensure its pull request; the last commit
    made and the pull requests, in image order."""
    forge: Forge = connect(proposals.write, api=settings.forge_api, token=settings.forge_token)
    made, found = None, []
    for branch in proposals.branches:
        if branch.files:
            made = workspace.commit(
                tip, branch.files, message=branch.message, identity=settings.identity
            )
            workspace.push_branch(made, branch.head, expected=branch.expected)
        pr = ensure(
            forge,
            base=settings.remote.branch,
            head=branch.head,
            title=branch.title,
            body=branch.body,
        )
        if proposals.write.auto_merge:
            forge.enable_auto_merge(pr)
        found.append(pr)
    return made, tuple(found)


def _head_state(
    workspace: Workspace,
    tip: str,
    head: str | None,
    event: BuildEvent,
    changes: tuple[FileChange, ...],
) -> str | None:
    """`newer`: the head branch holds a newer build for these targets; `current`: it holds
    this build on the base's tip already; None: it must be (re)written."""
    if head is None:
        return None
    blob = next(iter(workspace.blobs(head, [ledger_file.PATH])), None)
    ledger = Ledger.from_text(workspace.read(blob).decode() if blob else None)
    records = [ledger.get((c.path, c.repository)) for c in changes]
    if any(r is not None and r.is_newer_than(event) for r in records):
        return "newer"
    same = all(r is not None and r.build_id == event.build_id for r in records)
    return "current" if same and workspace.is_ancestor(tip, head) else None
