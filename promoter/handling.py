"""Run one delivered message through the promoter and say whether to ack it.

Shared by every entry point that receives messages (the function, the pull worker), so they
answer the same way: promoted, unchanged, ignored and invalid are acknowledged; transient
failures are not, so Pub/Sub delivers them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from promoter.errors import DeploymentError, PermanentError, TransientError
from promoter.events import BuildEvent
from promoter.logs import log_line
from promoter.service import promote
from promoter.settings import Settings
from promoter.verify import NOT_TRUSTED, NOT_VERIFIED


def handle(parse: Callable[[], BuildEvent], settings: Callable[[], Settings]) -> bool:
    """Parse and promote one message, log one line; True means acknowledge it."""
    started = time.monotonic()
    build_id = None
    try:
        event = parse()
        build_id = event.build_id
        result = promote(event, settings())
    except PermanentError as err:
        _log("ERROR", f"invalid: {err}", started, buildId=build_id, outcome="invalid")
        return True
    except DeploymentError as err:  # a person must fix the deployment: say so at ERROR
        _log("ERROR", f"retry: {err}", started, buildId=build_id, outcome="retry")
        return False
    except TransientError as err:
        _log("WARNING", f"retry: {err}", started, buildId=build_id, outcome="retry")
        return False
    severity = "NOTICE" if result.outcome == "promoted" else "INFO"
    if result.reason.startswith((NOT_VERIFIED, NOT_TRUSTED)):
        severity = "WARNING"  # a message that Cloud Build contradicts: someone may forge them
    _log(
        severity,
        f"{result.outcome}: {result.reason}",
        started,
        buildId=build_id,
        outcome=result.outcome,
        commit=result.commit,
        attempts=result.attempts,
        changes=[c.path for c in result.changes] or None,
    )
    return True


def _log(severity: str, message: str, started: float, **fields: Any) -> None:
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    log_line(severity, message, durationMs=duration_ms, **fields)
