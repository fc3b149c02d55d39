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

from promoter.chain import Promoted
from promoter.envpromotion import HealthCheck, follow
from promoter.errors import (
    ConfigError,
    DeploymentError,
    GateClosed,
    PermanentError,
    TransientError,
)
from promoter.events import BuildEvent
from promoter.logs import log_line
from promoter.service import Result, promote
from promoter.settings import Settings
from promoter.verify import NOT_TRUSTED, NOT_VERIFIED

BUG_RETRY_SECONDS = 3600.0
CHAIN_MAX_AGE = 24 * 3600.0  # a gate still closed a day later needs a person


def handle(
    parse: Callable[[], BuildEvent],
    settings: Callable[[], Settings],
    *,
    published: float | None = None,
) -> bool:
    """Parse and promote one message, log one line; True means acknowledge it.

    `published`: when Pub/Sub took the message (epoch seconds), if the entry point knows it.
    """
    said: dict[str, Any] = {}

    def work() -> list[Result]:
        event = parse()
        said["buildId"] = event.build_id
        return [promote(event, settings())]

    return _answer(work, said, published)


def handle_promoted(
    parse: Callable[[], Promoted],
    settings: Callable[[], Settings],
    *,
    published: float | None = None,
    health: HealthCheck | None = None,
) -> bool:
    """Promote into the environments a `promoted` message's environment feeds; True: ack it.

    A gate not met yet (not synced, still soaking) keeps the message, so Pub/Sub delivers it
    again later, until it is CHAIN_MAX_AGE old: then it is dropped with an ERROR line.
    """
    said: dict[str, Any] = {}

    def work() -> list[Result]:
        message = parse()
        said.update(buildId=message.build_id, environment=message.environment)
        return follow(message, settings(), health=health)

    return _answer(work, said, published)


def _answer(
    work: Callable[[], list[Result]], said: dict[str, Any], published: float | None
) -> bool:
    """Run `work` and log what it did, or why not; True: acknowledge the message."""
    started = time.monotonic()
    age = None if published is None else time.time() - published
    try:
        results = work()
    except GateClosed as err:
        if age is not None and age > CHAIN_MAX_AGE:
            _log("ERROR", f"dropped: still closed after {age:.0f} s: {err}", started, **said,
                 outcome="dropped")  # fmt: skip
            return True
        _log("INFO", f"waiting: {err}", started, **said, outcome="waiting")
        return False
    except (ConfigError, DeploymentError) as err:  # a person must fix it: keep the message
        _log("ERROR", f"retry: {err}", started, **said, outcome="retry")
        return False
    except PermanentError as err:
        _log("ERROR", f"invalid: {err}", started, **said, outcome="invalid")
        return True
    except TransientError as err:
        _log("WARNING", f"retry: {err}", started, **said, outcome="retry")
        return False
    except Exception as err:
        give_up = age is not None and age > BUG_RETRY_SECONDS
        outcome = "dropped" if give_up else "retry"
        _log(
            "ERROR",
            f"{outcome}: internal error ({type(err).__name__}): {err}",
            started,
            **said,
            outcome=outcome,
            traceback="".join(traceback.format_exception(err)),
        )
        return give_up
    for result in results:
        _log_result(result, started, said)
    return True


def _log_result(result: Result, started: float, said: dict[str, Any]) -> None:
    severity = "NOTICE" if result.outcome == "promoted" else "INFO"
    if result.warning or result.healed or result.reason.startswith((NOT_VERIFIED, NOT_TRUSTED)):
        # A file skipped, the policy leaving out every file, a message Cloud Build contradicts
        # (someone may forge them), a workspace damaged on disk: a person should look.
        severity = "WARNING"
    message = f"{result.outcome}: {result.reason}"
    if result.unnotified:  # Argo CD finds the commit on its next poll: minutes, not seconds
        severity = "WARNING"
        message += f"; Argo CD was not told ({result.unnotified})"
    if result.unannounced:  # the chain will not hear of this commit: a person should act
        severity = "ERROR"
        message += f"; the promoted message was not published ({result.unannounced})"
    _log(
        severity,
        message,
        started,
        **said,
        outcome=result.outcome,
        commit=result.commit,
        attempts=result.attempts,
        changes=[c.path for c in result.changes] or None,
        workspace=f"cloned again: {result.healed}" if result.healed else None,
    )


def _log(severity: str, message: str, started: float, **fields: Any) -> None:
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    log_line(severity, message, durationMs=duration_ms, **fields)
