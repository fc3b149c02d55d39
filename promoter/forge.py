"""The forge a config repo's pull requests go to (GitHub, GitLab or Google Cloud Secure Source
Manager), behind one interface.

Where the API is and the token that opens it come from our deployment (PROMOTER_FORGE_API,
PROMOTER_FORGE_TOKEN; for Secure Source Manager, the service account's own token where
PROMOTER_FORGE_TOKEN is not set), never from the config repo: its `write:` block picks the forge
and the repository, and cannot send our token anywhere else.
"""

from __future__ import annotations

import random
import time
from typing import Protocol

from promoter.errors import ConfigError
from promoter.forge_github import DEFAULT_API as GITHUB_API
from promoter.forge_github import GitHub
from promoter.forge_gitlab import DEFAULT_API as GITLAB_API
from promoter.forge_gitlab import GitLab
from promoter.forge_ssm import DEFAULT_API as SSM_API
from promoter.forge_ssm import SecureSourceManager
from promoter.forgeapi import TIMEOUT_SECONDS, ForgeUnavailable, check_api
from promoter.gcpauth import SOURCE, access_token
from promoter.pullrequests import AutoMerge, PullRequest, State, WriteMode

# A create answered "already exists" while the list shows none: the forge's list lags behind its
# create (seconds on GitHub), or the one that existed was merged meanwhile. Ask again this often.
ENSURE_ATTEMPTS = 5
_BACKOFF_SECONDS = 0.2
_DEFAULT_APIS = {"github": GITHUB_API, "gitlab": GITLAB_API, "ssm": SSM_API}


class Forge(Protocol):
    """Pull requests (merge requests) of one repository on one forge."""

    def create(self, *, base: str, head: str, title: str, body: str) -> PullRequest | None: ...
    def find_open(self, *, base: str, head: str) -> PullRequest | None: ...
    def update(self, pr: PullRequest, *, title: str, body: str) -> None: ...
    def close(self, pr: PullRequest) -> None: ...
    def state(self, pr: PullRequest) -> State: ...
    def enable_auto_merge(self, pr: PullRequest) -> AutoMerge: ...


def connect(
    write: WriteMode, *, api: str | None, token: str | None, timeout: float = TIMEOUT_SECONDS
) -> Forge:
    """The client for `write`'s forge and repository, at `api` (else the forge's public API)."""
    if not write.proposes or write.forge is None or write.repository is None:
        raise ConfigError("promoter.yaml: write: pull requests need mode, forge and repository")
    root = api or _DEFAULT_APIS[write.forge]
    if write.forge == "ssm":
        return _secure_source_manager(write.repository, api=root, token=token, timeout=timeout)
    if not token:
        raise ConfigError(
            "PROMOTER_FORGE_TOKEN: required with write.mode: pull-request"
            f" (a {write.forge} token for {write.repository})"
        )
    client = GitHub if write.forge == "github" else GitLab
    return client(write.repository, api=root, token=token, timeout=timeout)


def _secure_source_manager(
    repository: str, *, api: str, token: str | None, timeout: float
) -> SecureSourceManager:
    """PROMOTER_FORGE_TOKEN where set, else the service account's own access token (the API
    checked first: no token is fetched for an address it may not be sent to)."""
    if token:
        return SecureSourceManager(repository, api=api, token=token, timeout=timeout)
    check_api(api)
    token = access_token(timeout=timeout)
    return SecureSourceManager(repository, api=api, token=token, timeout=timeout, credential=SOURCE)


def ensure(forge: Forge, *, base: str, head: str, title: str, body: str) -> PullRequest:
    """The one open pull request from `head` into `base`, with this title and body.

    Opened when there is none; found and updated when there is, also when another instance
    opened it a moment ago (the forge answers our create with "already exists").
    """
    for attempt in range(ENSURE_ATTEMPTS):
        found = forge.find_open(base=base, head=head)
        if found is not None:
            forge.update(found, title=title, body=body)
            return found
        created = forge.create(base=base, head=head, title=title, body=body)
        if created is not None:
            return created
        time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))
    raise ForgeUnavailable(
        f"a pull request from {head} into {base} exists, the forge says, but it lists none"
    )
