"""A Google OAuth2 access token for the promoter's own service account.

Secure Source Manager takes Google access tokens, not a token of its own: in Cloud Functions
the function's service account has one, from Application Default Credentials (the metadata
server; elsewhere `GOOGLE_APPLICATION_CREDENTIALS` or gcloud's). It is fetched when a forge
client is made, once per event: two loopback requests to the metadata server, milliseconds
beside the git fetch and push. Every request has what is left of one deadline.
"""

from __future__ import annotations

import time
from typing import Any

import google.auth
import google.auth.exceptions
import google.auth.transport.requests

from promoter.errors import ConfigError
from promoter.forgeapi import ForgeUnavailable

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SOURCE = "the service account's token (Application Default Credentials)"


def access_token(*, timeout: float) -> str:
    """An access token for SCOPES, fetched within `timeout` seconds.

    ConfigError where there are no credentials to be had (nothing to retry); ForgeUnavailable
    where the token service did not answer in time or said to try again.
    """
    request = _DeadlineRequest(time.monotonic() + timeout)
    try:
        credentials, _ = google.auth.default(scopes=SCOPES, request=request)
        credentials.refresh(request)
    except google.auth.exceptions.DefaultCredentialsError as err:
        raise ConfigError(
            f"PROMOTER_FORGE_TOKEN: not set, and no Application Default Credentials ({err})"
        ) from None
    except google.auth.exceptions.RefreshError as err:
        if getattr(err, "retryable", False):
            raise ForgeUnavailable(f"{SOURCE}: could not be refreshed ({err})") from None
        raise ConfigError(f"{SOURCE}: refused ({err})") from None
    except google.auth.exceptions.TransportError as err:
        raise ForgeUnavailable(f"{SOURCE}: token service unreachable ({err})") from None
    token = getattr(credentials, "token", None)
    if not isinstance(token, str) or not token:
        raise ForgeUnavailable(f"{SOURCE}: the token service answered no token")
    return token


class _DeadlineRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport, each request given what is left of one deadline."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise google.auth.exceptions.TransportError("no time left for the token service")
        wait = left if timeout is None else min(timeout, left)
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=wait, **kwargs
        )
