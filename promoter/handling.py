"""Run one delivered message through the promoter and say whether to ack it.

Shared by every entry point that receives messages (the function, the pull worker), so they
answer the same way, by whose fault it is. A bad message (invalid), and promoted, unchanged and
ignored ones, are acknowledged. A wrong deployment or config repo (ConfigError,
DeploymentError) and transient failures are not: the builds wait in Pub/Sub and land once it is
fixed. A bug of ours (an exception nobody classified) is logged with its traceback and delivered
again while the message is younger than BUG_RETRY_SECONDS (a fix can be deployed meanwhile),
then acknowledged: one poison message cannot loop until Pub/Sub's retention ends.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from promoter.errors import ConfigError, DeploymentError, PermanentError, TransientError
from promoter.events import BuildEvent
from promoter.logs import log_line
from promoter.service import promote
from promoter.settings import Settings
from promoter.verify import NOT_TRUSTED, NOT_VERIFIED

BUG_RETRY_SECONDS = 3600.0


def handle(
    parse: Callable[[], BuildEvent],
    settings: Callable[[], Settings],
    *,
    published: float | None = None,
) -> bool:
    """Parse and promote one message, log one line; True means acknowledge it.

    `published`: when Pub/Sub took the message (epoch seconds), if the entry point knows it.
    """
    started = time.monotonic()
    build_id = None
    try:
        event = parse()
        build_id = event.build_id
        result = promote(event, settings())
    except (ConfigError, DeploymentError) as err:  # a person must fix it: keep the message
        _log("ERROR", f"retry: {err}", started, buildId=build_id, outcome="retry")
        return False
    except PermanentError as err:
        _log("ERROR", f"invalid: {err}", started, buildId=build_id, outcome="invalid")
        return True
    except TransientError as err:
        _log("WARNING", f"retry: {err}", started, buildId=build_id, outcome="retry")
        return False
    except Exception as err:
        age = None if published is None else time.time() - published
        give_up = age is not None and age > BUG_RETRY_SECONDS
        outcome = "dropped" if give_up else "retry"
        _log(
            "ERROR",
            f"{outcome}: internal error ({type(err).__name__}): {err}",
            started,
            buildId=build_id,
            outcome=outcome,
            traceback="".join(traceback.format_exception(err)),
        )
        return give_up
    severity = "NOTICE" if result.outcome == "promoted" else "INFO"
    if result.warning or result.healed or result.reason.startswith((NOT_VERIFIED, NOT_TRUSTED)):
        # A file skipped, the policy leaving out every file, a message Cloud Build contradicts
        # (someone may forge them), a workspace damaged on disk: a person should look.
        severity = "WARNING"
    _log(
        severity,
        f"{result.outcome}: {result.reason}",
        started,
        buildId=build_id,
        outcome=result.outcome,
        commit=result.commit,
        attempts=result.attempts,
        changes=[c.path for c in result.changes] or None,
        workspace=f"cloned again: {result.healed}" if result.healed else None,
    )
    return True


def _log(severity: str, message: str, started: float, **fields: Any) -> None:
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    log_line(severity, message, durationMs=duration_ms, **fields)
