"""`promoter promote-env`: what one environment runs, into the next, as one commit behind gates.

The steps: read the environments and the ledger of a fresh tip, find what the source runs and
the commit that promoted it there, check the gates (holds, rolled-back digests, soak, and Argo
CD's word where `requireHealthy`), pin the target's files, commit and push (`service.apply`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from promoter.audit import carry_message
from promoter.carry import Gate, Source, carry, gates, sources
from promoter.chain import Promoted
from promoter.environments import Environment
from promoter.errors import ConfigError, GateClosed, ManifestError, NothingToDo
from promoter.githistory import Commits
from promoter.gitrepo import Workspace
from promoter.history import Commit
from promoter.images import Reference
from promoter.ledger import Record
from promoter.manifests import Manifest
from promoter.pinning import helm_targets
from promoter.policy import Policy
from promoter.service import (
    Decide,
    Proposal,
    Result,
    apply,
    read_policy,
    read_state,
    read_texts,
)
from promoter.settings import Settings

HealthCheck = Callable[[Environment, str, Workspace], str | None]
"""Why `environment`'s Argo CD app does not run `commit` synced and healthy yet; None: it does."""


@dataclass(frozen=True)
class Request:
    """What a person asked: into which environment, from which, which image, forced or not."""

    to: str
    source: str | None = None
    image: str | None = None
    force: bool = False


def promote_env(
    settings: Settings, request: Request, *, health: HealthCheck | None = None
) -> Result:
    """Carry the source environment's digests into `request.to`, or raise GateClosed."""
    return apply(_deciding(settings, request, health), settings)


def follow(
    message: Promoted, settings: Settings, *, health: HealthCheck | None = None
) -> list[Result]:
    """Promote into every `auto` environment fed by `message.environment`, gates permitting.

    Each is tried; if any gate is closed, GateClosed is raised after the others were done (the
    message comes again later, and what was done is then `unchanged`). The first promotion's
    fetch and policy also say which environments are fed: no fetch of its own for that.
    """
    fed: list[Environment] = []  # from the policy of the first tip fetched

    def first(workspace: Workspace, tip: str) -> Proposal:
        policy = read_policy(workspace, tip, settings)
        if not fed:
            fed.extend(_fed(policy, message.environment))
        if not fed:
            said = message.environment or "a repo without environments"
            reason = f"no environment with auto promotion comes from {said}"
            return Proposal(Result("ignored", reason))
        request = Request(fed[0].name, fed[0].source, message.image)
        return _decide(workspace, tip, policy, settings=settings, request=request, health=health)

    results: list[Result] = []
    closed: list[str] = []

    def tried(decide: Decide) -> None:
        try:
            results.append(apply(decide, settings))
        except GateClosed as err:
            closed.append(str(err))
        except NothingToDo as err:
            results.append(Result("unchanged", str(err)))

    tried(first)
    for env in fed[1:]:
        tried(_deciding(settings, Request(env.name, env.source, message.image), health))
    if closed:
        raise GateClosed("; ".join(closed))
    return results


def _fed(policy: Policy, environment: str | None) -> list[Environment]:
    """The `auto` environments whose source is `environment`."""
    return [
        env
        for env in policy.environments
        if env.source is not None and env.source == environment and env.auto
    ]


def _deciding(settings: Settings, request: Request, health: HealthCheck | None) -> Decide:
    """What `request` commits on a fetched tip, by that tip's policy."""

    def decide(workspace: Workspace, tip: str) -> Proposal:
        policy = read_policy(workspace, tip, settings)
        return _decide(workspace, tip, policy, settings=settings, request=request, health=health)

    return decide


def _decide(
    workspace: Workspace,
    tip: str,
    policy: Policy,
    *,
    settings: Settings,
    request: Request,
    health: HealthCheck | None,
) -> Proposal:
    target, source = _environments(policy, request)
    ledger, holds = read_state(workspace, tip)
    wanted = None if request.image is None else {request.image}
    records = sources(ledger, source, wanted)
    if not records:
        what = request.image or "any image"
        raise NothingToDo(f"nothing to promote: {source.name} has no promotion of {what} recorded")
    named = workspace.manifests_naming(tip, set(records))
    files = read_texts(workspace, tip, sorted(p for p in named if target.covers(p)))
    if not files:
        raise NothingToDo(
            f"nothing to promote: no file of {target.name} ({', '.join(target.paths)}) names"
            f" {', '.join(sorted(records))}"
        )
    found = _sources(workspace, tip, source, records)
    closed = gates(target, found, holds=holds, target_paths=list(files), now=int(time.time()))
    closed += _health(target, source, found, workspace, health)
    if closed and not request.force:
        raise GateClosed(_refusal(target, closed))
    helm = {path: helm_targets(policy, path, records) for path in files}
    done = carry(found, files=files, ledger=ledger, helm=helm)
    if not done.changes:
        reason = f"{target.name} already runs what {source.name} runs, or newer"
        return Proposal(Result("unchanged", reason))
    forced = sorted({g.name for g in closed})
    message = carry_message(
        target.name,
        source.name,
        done.changes,
        images=[_trailer_fields(found[r]) for r in sorted({c.repository for c in done.changes})],
        forced=forced,
        skip_ci=settings.skip_ci,
    )
    announce = tuple(
        Promoted(target.name, r, found[r].record.digest, found[r].record.build_id, "")
        for r in sorted({c.repository for c in done.changes})
    )
    said = f"; forced past {', '.join(forced)}" if forced else ""
    reason = f"promoted {len(done.changes)} image reference(s) from {source.name} to {target.name}"
    result = Result(
        "promoted", reason + said, changes=done.changes, warning=bool(forced), announce=announce
    )
    return Proposal(result, {p: t.encode() for p, t in done.files.items()}, message)


def _environments(policy: Policy, request: Request) -> tuple[Environment, Environment]:
    by_name = {env.name: env for env in policy.environments}
    if not by_name:
        raise ConfigError("promoter.yaml: no environments: to promote between them, list them")
    target = by_name.get(request.to)
    if target is None:
        raise ConfigError(f"--to: no environment {request.to!r} (known: {', '.join(by_name)})")
    if target.source is None:
        raise ConfigError(f"--to: {target.name} is an entry environment: builds promote into it")
    if request.source is not None and request.source != target.source:
        raise ConfigError(
            f"--from: {target.name} comes from {target.source}, not from {request.source!r}"
        )
    return target, by_name[target.source]


def _sources(
    workspace: Workspace, tip: str, source: Environment, records: dict[str, Record]
) -> dict[str, Source]:
    """Each record with its tag and the commit that promoted it into `source`."""
    commits = promotion_commits(workspace, tip, source, records)
    texts = read_texts(workspace, tip, sorted({record.path for record in records.values()}))
    found = {}
    for repository, record in records.items():
        commit = commits.get(repository)
        found[repository] = Source(
            record,
            _tag(texts.get(record.path), record),
            commit.id if commit else None,
            commit.time if commit else None,
        )
    return found


def promotion_commits(
    workspace: Workspace, tip: str, source: Environment, records: dict[str, Record]
) -> dict[str, Commit]:
    """The newest commit that wrote each record's build into `source`'s files."""
    found: dict[str, Commit] = {}

    def promoted(commit: Commit, record: Record) -> bool:
        trailers = commit.trailers
        return record.build_id in trailers.get("Build-Id", []) and any(
            source.covers(p) for p in commit.paths
        )

    def enough(read: Commits) -> bool:
        for commit in read[0]:
            for repository, record in records.items():
                if repository not in found and promoted(commit, record):
                    found[repository] = commit
        return len(found) == len(records)

    workspace.history(tip, enough=enough)
    return found


def _health(
    target: Environment,
    source: Environment,
    found: dict[str, Source],
    workspace: Workspace,
    health: HealthCheck | None,
) -> list[Gate]:
    if not target.require_healthy:
        return []
    if health is None:
        raise ConfigError(
            f"environment {target.name} requires {source.name} healthy in Argo CD, and this"
            " promoter cannot reach the cluster (set KUBECONFIG, or run in-cluster)"
        )
    closed = []
    for repository, item in sorted(found.items()):
        if item.commit is None:
            closed.append(Gate("healthy", repository, "its promotion commit was not found"))
            continue
        why = health(source, item.commit, workspace)
        if why is not None:
            closed.append(Gate("healthy", repository, why))
    return closed


def _refusal(target: Environment, closed: list[Gate]) -> str:
    said = "; ".join(f"{g.name}: {g.repository}: {g.why}" for g in closed)
    return f"not promoted to {target.name}: {said} (--force promotes anyway, and says so)"


def _trailer_fields(source: Source) -> tuple[str, str, str, str | None]:
    record = source.record
    return record.repository, record.digest, record.build_id, source.commit


def _tag(text: str | None, record: Record) -> str | None:
    """The tag next to the digest where the source names the image (`web:1.4@sha256:...`);
    `text`: the record's file (None: not a UTF-8 regular file), read once for all its images."""
    if text is None:
        return None
    try:
        sites = Manifest.read(text, {record.repository}, path=record.path).sites
    except ManifestError:
        return None
    for site in sites:
        if site.digest == record.digest:
            try:
                return Reference.parse(site.image).tag
            except ValueError:
                return None
    return None
