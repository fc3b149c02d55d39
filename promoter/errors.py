"""One hierarchy of errors; each says whether retrying can help."""

from __future__ import annotations


class PromoterError(Exception):
    """Base of every error the promoter raises on purpose."""


class PermanentError(PromoterError):
    """Retrying cannot help: acknowledge the message and log it."""


class InvalidEvent(PermanentError):
    """The build notification is malformed or names an invalid image."""


class ConfigError(PermanentError):
    """The promoter's settings or the config repo are wrong (its policy, ledger, branch).

    Not the message's fault: the CLI exits 2, and the function and the worker keep the message
    (503, nack) with an ERROR line saying what to fix, so the builds land once it is fixed.
    """


class NothingToDo(PermanentError):
    """A person asked for a change that has nothing to act on (nothing to roll back to)."""


class ManifestError(PermanentError):
    """A manifest in the config repo cannot be read or edited safely."""


class TransientError(PromoterError):
    """A passing failure: deliver the message again later."""


class GateClosed(TransientError):
    """A promotion gate is not met yet (not synced, still soaking, held): not now, maybe later."""


class DeploymentError(TransientError):
    """The promoter's own settings are wrong: keep the messages until its deployment is fixed."""


class GitUnavailable(TransientError):
    """The config repo's remote could not be reached or refused the operation."""


class WorkspaceDamaged(GitUnavailable):
    """Our own workspace cannot be opened or read (files gone or garbage): clone it again."""


class PublishFailed(TransientError):
    """A message could not be published on Pub/Sub within its deadline."""


class NotifyFailed(TransientError):
    """Argo CD's webhook did not take a push event: the commit stands, Argo CD's poll finds it."""


class ClusterUnavailable(TransientError):
    """The Kubernetes API did not answer in time, could not be reached, or said it is down."""


class PushContention(TransientError):
    """The branch kept moving; retries were exhausted."""


class PushRejected(TransientError):
    """The branch moved since the fetch: fetch the new tip and apply the event again."""


class RemoteLocked(PushRejected):
    """The remote could not lock the branch: another push holds it, or a crash left its lock."""
