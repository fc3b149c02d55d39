"""Cloud Functions entry point: a Cloud Build notification in, 2xx (ack) or 503 (retry) out.

Run locally with `functions-framework --source promoter/main.py --target on_build_event`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (
    None,
    "",
):  # loaded as a file by functions-framework: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask
import functions_framework

from promoter.chain import Promoted
from promoter.errors import ConfigError, DeploymentError
from promoter.events import from_cloud_event_data, message_data
from promoter.handling import handle, handle_promoted
from promoter.logs import log_line
from promoter.settings import Settings, require_git

if TYPE_CHECKING:
    from promoter.argoview import ArgoView

try:  # said once when the instance starts; each event then answers 503 with the same line
    require_git()
except ConfigError as missing:
    log_line("ERROR", f"at start-up: {missing}")


@functions_framework.cloud_event
def on_build_event(cloud_event: Any) -> None:
    """Promote the build in one `cloud-builds` message."""
    published = _published(cloud_event)
    if not handle(lambda: from_cloud_event_data(cloud_event.data), _settings, published=published):
        flask.abort(503, description="transient failure; deliver again")


@functions_framework.cloud_event
def on_promoted_event(cloud_event: Any) -> None:
    """Promote into the environments fed by the one a `promoted` message names."""
    published = _published(cloud_event)
    if not handle_promoted(
        lambda: Promoted.from_data(message_data(cloud_event.data)),
        _settings,
        published=published,
        health=lambda source, commit, workspace: _argo().health(source, commit, workspace),
    ):
        flask.abort(503, description="not yet, or a transient failure; deliver again")


def _published(cloud_event: Any) -> float | None:
    """When Pub/Sub took the message (epoch seconds): its publishTime, else the event's time."""
    data = cloud_event.data
    message = data.get("message") if isinstance(data, dict) else None
    for text in (
        message.get("publishTime") if isinstance(message, dict) else None,
        cloud_event.get("time"),
    ):
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return None


@functools.cache
def _argo() -> ArgoView:
    # Imported and connected on first use: the kubernetes client costs a cold start, and only
    # environments with requireHealthy ask Argo CD anything.
    from promoter.argocd import ClusterAccess
    from promoter.argoview import ArgoView

    return ArgoView(lambda: ClusterAccess.from_environ(os.environ))


@functools.cache
def _cached_settings() -> Settings:
    return Settings.from_env()


def _settings() -> Settings:
    # A broken deployment is fixed by redeploying: keep the messages until then.
    try:
        return _cached_settings()
    except ConfigError as err:
        raise DeploymentError(str(err)) from None
