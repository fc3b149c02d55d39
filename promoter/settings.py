"""Everything the promoter is configured with, read in one place and passed in."""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from git import Git
from git.exc import GitError

from promoter import signing
from promoter.argowebhook import REPO_VARIABLE, SECRET_VARIABLE, URL_VARIABLE, ArgoWebhook
from promoter.errors import ConfigError
from promoter.gitdir import DEFAULT_TIMEOUT
from promoter.gitrepo import Identity
from promoter.policy import DEFAULT_PATH
from promoter.remote import Remote
from promoter.webhook import Repository

MAX_GIT_TIMEOUT = 3600.0  # a function's longest request timeout
_TOPIC = re.compile(r"projects/[a-z][-a-z0-9.:]{4,61}[a-z0-9]/topics/[A-Za-z][-\w.~+%]{2,254}")


@dataclass(frozen=True)
class Settings:
    """How to reach the config repo and how to write to it."""

    remote: Remote
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "promoter")
    policy_path: str = DEFAULT_PATH
    identity: Identity = field(default_factory=Identity)
    skip_ci: bool = True
    dry_run: bool = False
    max_attempts: int = 10
    max_seconds: float = 60.0
    verify_builds: bool = False
    cloudbuild_host: str | None = None  # CLOUDBUILD_EMULATOR_HOST: a plain-HTTP stand-in
    policy_required: bool = False  # named by PROMOTER_POLICY or --policy: it must exist
    git_timeout: float = DEFAULT_TIMEOUT  # seconds one git process may take (a fetch, a push)
    events_topic: str | None = None  # PROMOTER_EVENTS_TOPIC: `promoted` messages go there
    forge_api: str | None = None  # PROMOTER_FORGE_API: None is the forge's public API
    forge_token: str | None = field(default=None, repr=False)  # PROMOTER_FORGE_TOKEN
    argocd_webhook: ArgoWebhook | None = None  # told of each push (PROMOTER_ARGOCD_WEBHOOK_*)

    def __post_init__(self) -> None:
        path = PurePosixPath(self.policy_path)  # "./promoter.yaml/" names promoter.yaml
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ConfigError(f"policy: {self.policy_path!r} must be a path inside the config repo")
        object.__setattr__(self, "policy_path", str(path))

    @classmethod
    def build(
        cls,
        *,
        repo: str,
        branch: str | None = None,
        policy: str | None = None,
        workdir: str | None = None,
        environ: Mapping[str, str] = os.environ,
        dry_run: bool = False,
        commits: bool = True,
    ) -> Settings:
        """Combine explicit values with the PROMOTER_* environment (explicit values win).

        `commits`: False for a caller that only reads (`history`, `status`), which is spared the
        signing key's probe (an ssh-keygen process) and its failure.
        """
        if not repo:
            raise ConfigError("PROMOTER_REPO_URL: required (the config repo's URL or path)")
        require_git()
        token = environ.get("PROMOTER_GIT_TOKEN") or None
        remote = Remote(_absolute(repo), branch or environ.get("PROMOTER_BRANCH") or "main", token)
        git_timeout = _git_timeout(environ)
        identity = Identity(
            environ.get("PROMOTER_GIT_AUTHOR_NAME") or Identity.name,
            environ.get("PROMOTER_GIT_AUTHOR_EMAIL") or Identity.email,
            _signing_key(environ, timeout=git_timeout, probe=commits),
        )
        defaults = cls(remote)
        return cls(
            remote,
            workdir=Path(workdir or environ.get("PROMOTER_WORKDIR") or defaults.workdir),
            policy_path=policy or environ.get("PROMOTER_POLICY") or DEFAULT_PATH,
            policy_required=bool(policy or environ.get("PROMOTER_POLICY")),
            identity=identity,
            skip_ci=environ.get("PROMOTER_SKIP_CI", "true").lower() not in ("0", "false", "no"),
            dry_run=dry_run,
            verify_builds=_verify_builds(environ),
            cloudbuild_host=environ.get("CLOUDBUILD_EMULATOR_HOST") or None,
            git_timeout=git_timeout,
            events_topic=_events_topic(environ),
            forge_api=environ.get("PROMOTER_FORGE_API") or None,
            forge_token=environ.get("PROMOTER_FORGE_TOKEN") or None,
            argocd_webhook=_argocd_webhook(environ, remote),
        )

    @property
    def signing_key(self) -> Path | None:
        """The SSH private key that signs every commit (PROMOTER_SIGNING_KEY), if any."""
        return self.identity.signing_key

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The function's settings: PROMOTER_REPO_URL and friends."""
        return cls.build(repo=environ.get("PROMOTER_REPO_URL", ""), environ=environ)


MIN_GIT = (2, 31)  # GIT_CONFIG_COUNT, which hands git the token's credential helper


def require_git() -> None:
    """git is on PATH and new enough, else a ConfigError that says so."""
    if shutil.which("git") is None:
        raise ConfigError(
            "git: not found on PATH; the promoter runs git 2.31 or newer (the Cloud Functions"
            " python312 runtime provides it; a container image of your own must install it)"
        )
    version = _git_version()
    if version is None:
        raise ConfigError("git: `git --version` failed; is git installed correctly?")
    if version[:2] < MIN_GIT:
        raise ConfigError(
            f"git: git version {'.'.join(map(str, version))} found; the promoter needs git"
            f" {MIN_GIT[0]}.{MIN_GIT[1]} or newer"
        )


@functools.cache
def _git_version() -> tuple[int, ...] | None:
    """GitPython's reading of `git version`, asked once per process (start-up and settings)."""
    try:
        return tuple(Git().version_info)
    except (GitError, OSError, ValueError):
        return None


def _absolute(repo: str) -> str:
    # A local path is turned absolute because git runs inside the workspace, not here.
    if "://" in repo or ":" in repo.split("/", 1)[0]:
        return repo
    return str(Path(repo).expanduser().resolve())


def _git_timeout(environ: Mapping[str, str]) -> float:
    value = environ.get("PROMOTER_GIT_TIMEOUT", "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= MAX_GIT_TIMEOUT:
        raise ConfigError(
            f"PROMOTER_GIT_TIMEOUT: expected seconds, more than 0 and at most"
            f" {MAX_GIT_TIMEOUT:g}, got {value!r}"
        )
    return seconds


def _signing_key(environ: Mapping[str, str], *, timeout: float, probe: bool) -> Path | None:
    # Checked now (`probe`: by a caller that commits), by signing a probe: a key that cannot
    # sign stops the promoter before it commits anything. Unprobed, the key is still carried:
    # nothing is ever committed unsigned while the variable is set.
    value = environ.get(signing.VARIABLE, "").strip()
    if not value:
        return None
    key = Path(value).expanduser().absolute()
    if probe:
        signing.check_key(key, timeout=timeout)
    return key


def _events_topic(environ: Mapping[str, str]) -> str | None:
    value = environ.get("PROMOTER_EVENTS_TOPIC", "").strip()
    if value and not _TOPIC.fullmatch(value):
        raise ConfigError(
            f"PROMOTER_EVENTS_TOPIC: expected projects/PROJECT/topics/TOPIC, got {value!r}"
        )
    return value or None


def _argocd_webhook(environ: Mapping[str, str], remote: Remote) -> ArgoWebhook | None:
    url = environ.get(URL_VARIABLE, "").strip()
    secret = environ.get(SECRET_VARIABLE, "")  # as Argo CD holds it: a space would be part of it
    if not url and not secret:
        return None
    if not url or not secret:
        missing = SECRET_VARIABLE if url else URL_VARIABLE
        raise ConfigError(
            f"{URL_VARIABLE} and {SECRET_VARIABLE}: set both or neither ({missing} is not set)"
        )
    repo = environ.get(REPO_VARIABLE, "").strip() or remote.display
    return ArgoWebhook(url, secret, Repository.from_url(repo))


def _verify_builds(environ: Mapping[str, str]) -> bool:
    # On by default where K_SERVICE is set: Cloud Run, which runs gen2 functions.
    value = environ.get("PROMOTER_VERIFY_BUILDS", "").strip().lower()
    if not value:
        return "K_SERVICE" in environ
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigError(f"PROMOTER_VERIFY_BUILDS: expected true or false, got {value!r}")
