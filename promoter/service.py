"""The steps of one promotion: fetch, plan, commit, push; on a moved tip, again from scratch."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from promoter import ledger as ledger_file
from promoter.argowebhook import notify
from promoter.audit import FileChange, commit_message
from promoter.chain import Promoted, promoted
from promoter.errors import (
    ConfigError,
    GitUnavailable,
    InvalidEvent,
    NotifyFailed,
    PublishFailed,
    PushContention,
    PushRejected,
    RemoteLocked,
    WorkspaceDamaged,
)
from promoter.events import BuildEvent, check_create_time, from_envelope
from promoter.gitrepo import Blob, Workspace
from promoter.holds import HOLDS_PATH, ROLLED_BACK_PATH, Holds
from promoter.ledger import Ledger
from promoter.plan import Outcome as EventOutcome
from promoter.plan import Plan, plan
from promoter.policy import Policy, follow_link
from promoter.pullrequests import PullRequest
from promoter.settings import Settings
from promoter.verify import NOT_VERIFIED, differences, untrusted
from promoter.webhook import Push, split_paths

if TYPE_CHECKING:
    from promoter.proposing import Proposals

# A manifest is kilobytes; a file this large is a mistake or an attack, and is skipped.
MAX_MANIFEST_BYTES = 4 * 2**20
# Cloud Build's clock and the git host's may disagree; search history this much further back.
CLOCK_SKEW_SECONDS = 3600
_BACKOFF_BASE = 0.05
_BACKOFF_CAP = 2.0
# A push holds the remote's branch lock for milliseconds: found locked this many times in a row,
# with backoff between, the lock was left by a crash and retrying at once cannot help.
LOCKED_ATTEMPTS = 3
MAX_POLICY_LINKS = 8  # as many symlinks in a row as a policy may go through


Outcome = EventOutcome | Literal["rolled-back", "held", "released", "proposed"]


@dataclass(frozen=True)
class Result:
    """What one event did to the config repo."""

    outcome: Outcome
    reason: str
    commit: str | None = None
    changes: tuple[FileChange, ...] = ()
    attempts: int = 1
    warning: bool = False  # logged at WARNING: a file was skipped, the policy left out all
    healed: str = ""  # the workspace was damaged (why) and cloned again within this event
    announce: tuple[Promoted, ...] = ()  # the `promoted` messages of the commit
    unannounced: str = ""  # why they could not be published (the commit stands)
    pull_requests: tuple[PullRequest, ...] = ()  # pull-request mode: one per image
    closed: tuple[PullRequest, ...] = ()  # pull-request mode: closed by a hold or a rollback
    unnotified: str = ""  # why Argo CD's webhook did not take the push (its poll will find it)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "outcome": self.outcome,
            "commit": self.commit,
            "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in self.changes],
            "reason": self.reason,
        }
        if self.pull_requests:
            data["pullRequest"] = self.pull_requests[0].to_json()
            data["pullRequests"] = [pr.to_json() for pr in self.pull_requests]
        if self.closed:
            data["closedPullRequests"] = [pr.to_json() for pr in self.closed]
        return data


@dataclass(frozen=True)
class Proposal:
    """What one attempt decided: its result, and the files and message to commit (if any)."""

    result: Result
    files: Mapping[str, bytes] = field(default_factory=dict)
    message: str = ""
    proposals: Proposals | None = None  # pull-request mode: head branches instead of a push


Decide = Callable[[Workspace, str], Proposal]
"""Look at the fetched tip of the workspace and say what to commit on it."""


def promote(event: BuildEvent, settings: Settings) -> Result:
    """Apply `event` to the config repo, retrying from a fresh tip while the push is rejected."""
    if not event.promotable or not event.images:
        early = plan(event, policy=Policy(), files={}, ledger=Ledger({}))
        return Result(early.outcome, early.reason)
    check_create_time(event, now=time.time())
    if settings.verify_builds:
        actual, reason = _verified(event, settings)
        if actual is None:
            return Result("ignored", reason)
        event = actual  # everything written comes from Cloud Build's answer
    return apply(lambda workspace, tip: _proposal(workspace, tip, event, settings), settings)


def apply(decide: Decide, settings: Settings) -> Result:
    """Decide on a fresh tip, commit and push; again from a fresh tip while the push is rejected."""
    started = time.monotonic()
    locked = 0
    for attempt in range(1, settings.max_attempts + 1):
        try:
            return _attempt(decide, settings, attempt)
        except PushRejected as err:
            locked = locked + 1 if isinstance(err, RemoteLocked) else 0
            if locked >= LOCKED_ATTEMPTS:
                raise GitUnavailable(str(err)) from None
            if time.monotonic() - started > settings.max_seconds:
                break
            time.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)))
    raise PushContention(
        f"push to {settings.remote.display} rejected {attempt} times: the branch kept moving"
    )


def _verified(event: BuildEvent, settings: Settings) -> tuple[BuildEvent | None, str]:
    """Cloud Build's own record of `event`'s build, or None and why it does not match."""
    from promoter.cloudbuild import fetch_build

    data = fetch_build(event, emulator_host=settings.cloudbuild_host)
    try:
        actual = None if data is None else from_envelope(data)
    except InvalidEvent as err:
        return None, f"{NOT_VERIFIED}Cloud Build's record of the build is unreadable ({err})"
    reason = differences(event, actual)
    if reason is not None or actual is None:
        return None, reason or NOT_VERIFIED
    return replace(actual, name=event.name), ""


def _attempt(decide: Decide, settings: Settings, attempt: int) -> Result:
    """One fetch-decide-commit-push; a damaged workspace is discarded and cloned again, once."""
    try:
        return _attempt_in(decide, settings, attempt, fresh=False)
    except WorkspaceDamaged as damaged:
        try:
            result = _attempt_in(decide, settings, attempt, fresh=True)
        except WorkspaceDamaged as again:
            # A fresh clone fails the same way: the cause is not the workspace (the remote, or
            # a bug of ours), so say what it is.
            raise again.__cause__ or again from None
        return replace(result, healed=str(damaged))


def _attempt_in(decide: Decide, settings: Settings, attempt: int, *, fresh: bool) -> Result:
    result, push = _attempt_locked(decide, settings, attempt, fresh=fresh)
    return _notified(result, push, settings)  # the workspace is free for the next event meanwhile


def _attempt_locked(
    decide: Decide, settings: Settings, attempt: int, *, fresh: bool
) -> tuple[Result, Push | None]:
    """Decide, commit and push holding the workspace: the result, and what Argo CD is told."""
    with Workspace.open(
        settings.workdir, settings.remote, timeout=settings.git_timeout, fresh=fresh
    ) as workspace:
        at_hand = workspace.tip_at_hand() if attempt == 1 else None
        if at_hand is None:
            tip = workspace.fetch(moved=attempt > 1)
            return _write(workspace, tip, decide(workspace, tip), settings, attempt)
        # Our own last push is most often still the remote's tip: decide on it without asking
        # the remote. A push's lease checks that tip; any other answer, an error included, is
        # given only once the remote confirmed it.
        try:
            proposal = decide(workspace, at_hand)
        except WorkspaceDamaged:
            raise  # discarded already: cloned again by the caller
        except Exception:
            tip = workspace.fetch()
            if tip == at_hand:
                raise  # decided on the remote's tip: the answer stands
            return _write(workspace, tip, decide(workspace, tip), settings, attempt)
        if not _pushes(proposal, settings):
            tip = workspace.fetch()
            proposal = proposal if tip == at_hand else decide(workspace, tip)
            return _write(workspace, tip, proposal, settings, attempt)
        try:
            return _write(workspace, at_hand, proposal, settings, attempt)
        except RemoteLocked:
            raise
        except PushRejected:
            tip = workspace.fetch(moved=True)  # someone pushed since our last push
        return _write(workspace, tip, decide(workspace, tip), settings, attempt)


def _pushes(proposal: Proposal, settings: Settings) -> bool:
    """Whether `proposal` is a commit pushed to the branch (not a dry run, not a proposal)."""
    return bool(proposal.files) and proposal.proposals is None and not settings.dry_run


def _write(
    workspace: Workspace, tip: str, proposal: Proposal, settings: Settings, attempt: int
) -> tuple[Result, Push | None]:
    """Carry out `proposal`, decided on `tip`: the result, and what Argo CD is to be told."""
    result = replace(proposal.result, attempts=attempt)
    if proposal.proposals is not None and not settings.dry_run:
        from promoter.proposing import open_pull_requests

        made, prs, closed = open_pull_requests(workspace, tip, proposal.proposals, settings)
        return replace(result, commit=made, pull_requests=prs, closed=closed), None
    if not _pushes(proposal, settings):
        return result, None
    commit = workspace.commit(
        tip, proposal.files, message=proposal.message, identity=settings.identity
    )
    workspace.push(commit)
    push = _push_event(workspace, tip, commit, proposal, settings)
    announce = tuple(replace(message, commit=commit) for message in result.announce)
    return _announced(replace(result, commit=commit, announce=announce), settings), push


def _push_event(
    workspace: Workspace, tip: str, commit: str, proposal: Proposal, settings: Settings
) -> Push | None:
    """What Argo CD's webhook is told of `commit`, where PROMOTER_ARGOCD_WEBHOOK_URL is set."""
    if settings.argocd_webhook is None:
        return None
    paths = sorted(proposal.files)
    existing = {blob.path for blob in workspace.blobs(tip, paths)}  # the commit listed them
    added, modified = split_paths(paths, existing)
    return Push(
        repository=settings.argocd_webhook.repository,
        branch=settings.remote.branch,
        before=tip,
        after=commit,
        message=proposal.message,
        added=added,
        modified=modified,
        pusher=(settings.identity.name, settings.identity.email),
    )


def _notified(result: Result, push: Push | None, settings: Settings) -> Result:
    """Tell Argo CD of the push; a failure is noted on the result and never raised."""
    if push is None or settings.argocd_webhook is None:
        return result
    try:
        notify(settings.argocd_webhook, push)
    except NotifyFailed as err:
        return replace(result, unnotified=str(err))
    return result


def _announced(result: Result, settings: Settings) -> Result:
    """Publish the commit's `promoted` messages where PROMOTER_EVENTS_TOPIC is set."""
    if settings.events_topic is None or not result.announce:
        return result
    from promoter.pubsub import announce

    try:
        announce(settings.events_topic, result.announce)
    except PublishFailed as err:
        return replace(result, unannounced=str(err))
    return result


def _proposal(workspace: Workspace, tip: str, event: BuildEvent, settings: Settings) -> Proposal:
    decided, reading = _plan_at(workspace, tip, event, settings)
    result = Result(decided.outcome, decided.reason, None, decided.changes, warning=decided.warning)
    if decided.outcome != "promoted":
        return Proposal(result)
    if reading.policy.write.proposes:
        return _pull_requests(workspace, tip, event, settings, reading)
    messages = promoted(
        decided.changes,
        environments=reading.policy.environments,
        build_id=event.build_id,
        commit="",
    )
    result = replace(result, announce=tuple(messages))
    message = commit_message(event, decided.changes, skip_ci=settings.skip_ci)
    files = {path: text.encode() for path, text in decided.files.items()}
    return Proposal(result, files, message)


def _pull_requests(
    workspace: Workspace, tip: str, event: BuildEvent, settings: Settings, reading: Reading
) -> Proposal:
    from promoter.proposing import propose

    found = propose(workspace, tip, event, settings, reading)
    if isinstance(found, tuple):
        return Proposal(Result(*found))
    heads = ", ".join(b.head for b in found.branches)
    reason = f"proposed {len(found.changes)} image reference(s) on {heads}"
    reason += "".join(f"; {s}" for s in found.skipped)
    return Proposal(Result("proposed", reason, changes=found.changes), proposals=found)


@dataclass(frozen=True)
class Reading:
    """What one tip holds for one event, read once: planned whole, or one image at a time."""

    policy: Policy
    files: Mapping[str, str] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=lambda: Ledger({}))
    holds: Holds = field(default_factory=Holds)
    unreadable: tuple[str, ...] = ()
    rolled_back: frozenset[str] = frozenset()

    def plan(self, event: BuildEvent, *, holds: Holds | None = None) -> Plan:
        """`event` planned on what was read (`holds`: instead of the tip's)."""
        return plan(
            event,
            policy=self.policy,
            files=self.files,
            ledger=self.ledger,
            unreadable=self.unreadable,
            holds=self.holds if holds is None else holds,
            rolled_back=self.rolled_back,
        )


def _plan_at(
    workspace: Workspace, tip: str, event: BuildEvent, settings: Settings
) -> tuple[Plan, Reading]:
    own = (settings.policy_path, *STATE_FILES)
    named = workspace.manifests_naming(tip, {i.repository for i in event.images})
    # One listing for our own files and the candidates; the commit reuses it for file modes.
    blobs = {b.path: b for b in workspace.blobs(tip, [*own, *sorted(named)])}
    holds = read_holds(workspace, blobs)
    policy = read_policy(workspace, tip, settings)
    refused = untrusted(event, policy.trust, verified=settings.verify_builds)
    if refused is not None:  # decided before any manifest is read
        return Plan("ignored", refused), Reading(policy)
    files, unreadable = _read_candidates(workspace, [blobs[p] for p in named if p in blobs], own)
    ledger = Ledger.from_text(file_text(workspace, blobs, ledger_file.PATH))
    reading = Reading(policy, files, ledger, holds, tuple(unreadable))
    decided = reading.plan(event)
    if decided.outcome == "promoted":
        rolled_back = _rolled_back(workspace, tip, event)
        if rolled_back:
            reading = replace(reading, rolled_back=frozenset(rolled_back))
            decided = reading.plan(event)
    return decided, reading


STATE_FILES = (ledger_file.PATH, HOLDS_PATH, ROLLED_BACK_PATH)  # the promoter's own, in the repo


def read_state(workspace: Workspace, tip: str) -> tuple[Ledger, Holds]:
    """The ledger, holds and rolled-back digests of `tip`."""
    own = {b.path: b for b in workspace.blobs(tip, STATE_FILES)}
    return Ledger.from_text(file_text(workspace, own, ledger_file.PATH)), read_holds(workspace, own)


def read_holds(workspace: Workspace, blobs: Mapping[str, Blob]) -> Holds:
    """The holds and rolled-back digests among `blobs` (the tip's listing of our own files)."""
    return Holds.from_text(
        file_text(workspace, blobs, HOLDS_PATH), file_text(workspace, blobs, ROLLED_BACK_PATH)
    )


def read_texts(workspace: Workspace, commit: str, paths: list[str]) -> dict[str, str]:
    """The UTF-8 manifests among `paths` in `commit` (others are left out)."""
    return _read_candidates(workspace, list(workspace.blobs(commit, paths)), ())[0]


def file_text(workspace: Workspace, blobs: Mapping[str, Blob], path: str) -> str | None:
    """The text of `path` if `blobs` lists it, else None."""
    blob = blobs.get(path)
    return _text(workspace, blob) if blob else None


def read_policy(workspace: Workspace, tip: str, settings: Settings) -> Policy:
    """The policy of `tip` (see `_policy_text`); no policy file is the empty policy."""
    text = _policy_text(workspace, tip, settings)
    return Policy.from_yaml(text, path=settings.policy_path) if text else Policy()


def _policy_text(workspace: Workspace, tip: str, settings: Settings) -> str | None:
    """The policy's text; None where there is none and none was asked for by name.

    A symlinked policy is followed inside the repo. A policy that cannot be read is never taken
    for "no policy": that would promote every image everywhere.
    """
    path = settings.policy_path
    for _ in range(MAX_POLICY_LINKS):
        blob = next(iter(workspace.blobs(tip, [path])), None)  # listed once per tip and path
        if blob is not None:
            return _text(workspace, blob)
        target = workspace.link_target(tip, path)
        if target is None:
            break
        path = follow_link(path, target)
    else:
        raise ConfigError(f"{settings.policy_path}: more than {MAX_POLICY_LINKS} symlinks deep")
    if path != settings.policy_path:
        raise ConfigError(f"{settings.policy_path}: a symlink to {path}, which is not a file")
    if settings.policy_required:
        raise ConfigError(
            f"{path}: not found on branch {settings.remote.branch!r} of"
            f" {settings.remote.display}, and PROMOTER_POLICY or --policy names it"
        )
    return None


def _text(workspace: Workspace, blob: Blob) -> str:
    try:
        return workspace.read(blob).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{blob.path}: expected UTF-8 text") from None


def _read_candidates(
    workspace: Workspace, blobs: list[Blob], own: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    files, unreadable = {}, []
    for blob in sorted(blobs, key=lambda b: b.path):
        if blob.path in own:
            continue
        if blob.size > MAX_MANIFEST_BYTES:
            unreadable.append(f"{blob.path}: larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
            continue
        try:
            files[blob.path] = workspace.read(blob).decode("utf-8")
        except UnicodeDecodeError:
            unreadable.append(f"{blob.path}: not UTF-8")
    return files, unreadable


def _rolled_back(workspace: Workspace, tip: str, event: BuildEvent) -> set[str]:
    """Files this build was committed to before: if it would write them again, a revert undid it."""
    assert event.create_time is not None
    since = event.create_time.seconds - CLOCK_SKEW_SECONDS
    return workspace.commits_of_build(tip, event.build_id, since=since)
