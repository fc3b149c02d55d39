"""`promoter status`: per environment and image, what git holds and what Argo CD runs.

Read-only on both sides: a fetch of the config repo, and `get` on the environments' Argo CD
Applications.
"""

from __future__ import annotations

from promoter.argoview import ArgoView
from promoter.carry import sources
from promoter.environments import Environment
from promoter.envpromotion import promotion_commits
from promoter.errors import ConfigError
from promoter.gitrepo import Workspace
from promoter.policy import Policy
from promoter.service import read_policy, read_state
from promoter.settings import Settings
from promoter.status import Row

EVERYWHERE = Environment("all", ("**",))  # a repo without environments: one, all of it


def status(settings: Settings, *, argo: ArgoView, only: str | None = None) -> list[Row]:
    """A row per environment and image: promoted digest, build and commit, and Argo CD's word."""
    with Workspace.open(settings.workdir, settings.remote, timeout=settings.git_timeout) as ws:
        tip = ws.fetch()
        policy = read_policy(ws, tip, settings)
        ledger, _ = read_state(ws, tip)
        images = {repository for _, repository in ledger.records} | _named(policy)
        rows = []
        for env in _environments(policy, only):
            records = sources(ledger, env)
            commits = promotion_commits(ws, tip, env, records) if records else {}
            app = argo.app(env)
            for image in sorted(images):
                record, commit = records.get(image), commits.get(image)
                revision = app.revision if app else None
                in_sync = None
                if commit is not None and revision is not None:
                    in_sync = ws.is_ancestor(commit.id, revision)
                rows.append(
                    Row(
                        env.name,
                        image,
                        record.digest if record else None,
                        record.build_id if record else None,
                        commit.id if commit else None,
                        app.sync if app else None,
                        app.health if app else None,
                        revision,
                        in_sync,
                    )
                )
    return rows


def _environments(policy: Policy, only: str | None) -> tuple[Environment, ...]:
    environments = policy.environments or (EVERYWHERE,)
    if only is None:
        return environments
    chosen = tuple(env for env in environments if env.name == only)
    if not chosen:
        known = ", ".join(env.name for env in environments)
        raise ConfigError(f"--env: no environment {only!r} (known: {known})")
    return chosen


def _named(policy: Policy) -> set[str]:
    """The repositories promoter.yaml names: shown even before their first promotion (as are
    those promoted into another environment)."""
    return {rule.repository for rule in policy.rules or ()}
