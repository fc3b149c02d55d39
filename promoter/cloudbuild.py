"""The Cloud Build API, read-only: the build a message claims, as Cloud Build itself has it.

The client (google-cloud-build) is imported only when a build is verified, once per process,
and talks REST: to the API, or in plain HTTP to `CLOUDBUILD_EMULATOR_HOST` (a local stand-in,
as `PUBSUB_EMULATOR_HOST` is for Pub/Sub). Its own retries are off: a 503 is answered at once
as transient, and Pub/Sub delivers the message again.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from promoter.errors import DeploymentError, TransientError
from promoter.events import BuildEvent

TIMEOUT_SECONDS = 10.0
VIEWER_ROLE = "roles/cloudbuild.builds.viewer"


class CloudBuildUnavailable(TransientError):
    """The Cloud Build API could not be reached or answered with a server error."""


def fetch_build(event: BuildEvent, *, emulator_host: str | None) -> dict[str, Any] | None:
    """The API's Build resource (JSON) for `event`, or None when the API has no such build."""
    from google.api_core import exceptions

    request = (
        {"name": event.name}
        if event.name
        else {"project_id": event.project_id or "", "id": event.build_id}
    )
    try:
        client = _client(emulator_host)
        build = client.get_build(request=request, retry=None, timeout=TIMEOUT_SECONDS)
    except exceptions.NotFound:
        return None
    except (exceptions.Forbidden, exceptions.PermissionDenied) as err:  # 403 over REST, gRPC
        raise DeploymentError(
            f"Cloud Build refused to show build {event.build_id} ({err.message}): give the"
            f" promoter's service account {VIEWER_ROLE} in project {event.project_id}"
        ) from None
    except exceptions.GoogleAPICallError as err:  # 5xx, 429 and the rest: ask again later
        raise CloudBuildUnavailable(f"Cloud Build answered {err.code}: {err.message}") from None
    except Exception as err:  # the transport's own: connection refused, timeouts, TLS
        raise CloudBuildUnavailable(f"Cloud Build unreachable: {type(err).__name__}") from None
    from google.cloud.devtools.cloudbuild_v1 import Build

    data: dict[str, Any] = json.loads(Build.to_json(build, use_integers_for_enums=False))
    return data


@functools.cache
def _client(emulator_host: str | None) -> Any:
    from google.cloud.devtools.cloudbuild_v1 import CloudBuildClient
    from google.cloud.devtools.cloudbuild_v1.services.cloud_build.transports.rest import (
        CloudBuildRestTransport,
    )

    if emulator_host:
        from google.auth.credentials import AnonymousCredentials

        anonymous = AnonymousCredentials()
        transport = CloudBuildRestTransport(
            host=emulator_host, credentials=anonymous, url_scheme="http"
        )
        return CloudBuildClient(transport=transport)
    return CloudBuildClient(transport="rest")
