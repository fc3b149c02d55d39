"""Pull-mode worker: the same promotion as the function, fed by a streaming pull subscription.

Acknowledged: promoted, unchanged, ignored and invalid. Not acknowledged (nack, so Pub/Sub
delivers again): transient failures. SIGTERM or SIGINT stops taking messages, lets the ones in
flight finish for up to GRACE_SECONDS, then kills the git processes still running (a hung
remote) so that those messages are nacked too, and exits 0 within STOP_SECONDS: inside
Kubernetes' default grace period of 30 s.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from promoter import processes
from promoter.events import parse_event
from promoter.handling import handle
from promoter.logs import log_line
from promoter.settings import Settings

GRACE_SECONDS = 15.0  # for the messages in flight to finish by themselves
STOP_SECONDS = 25.0  # from SIGTERM to exit, at most


def listen(subscription: str, settings: Settings, *, max_in_flight: int) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    import google.cloud.pubsub_v1 as pubsub_v1
    from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    subscriber = pubsub_v1.SubscriberClient()
    executor = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="promote")
    future = subscriber.subscribe(
        subscription,
        _callback(lambda: settings),
        flow_control=pubsub_v1.types.FlowControl(max_messages=max_in_flight),
        scheduler=ThreadScheduler(executor),
        await_callbacks_on_shutdown=True,
    )
    log_line("INFO", f"listening on {subscription}", maxInFlight=max_in_flight)
    future.add_done_callback(lambda _: stop.set())  # the stream ended by itself (an error)
    stop.wait()
    # Done before we cancel it: the stream failed. Cancelling marks it cancelled all the same,
    # so ask first.
    failure = (future.exception(timeout=0) or "it ended") if future.done() else None
    stopping = time.monotonic()
    future.cancel()
    if not _ended(future, GRACE_SECONDS):  # with await_callbacks: the ones in flight end
        processes.stop_all()  # what still runs is stuck: its git dies, its message is nacked
        _ended(future, STOP_SECONDS - (time.monotonic() - stopping) - 1)
    subscriber.close()
    if failure is not None:
        log_line("ERROR", f"subscription stream failed: {failure}")
        return 75
    log_line("INFO", f"stopped listening on {subscription}")
    return 0


def _ended(future: Any, seconds: float) -> bool:
    """Whether the stream's shutdown finished within `seconds`."""
    try:
        future.result(timeout=max(seconds, 0))
    except TimeoutError:
        return False
    except Exception:  # the cancellation itself, or the failure already noted
        pass
    return True


def _callback(settings: Callable[[], Settings]) -> Callable[[Any], None]:
    def on_message(message: Any) -> None:
        published = message.publish_time.timestamp() if message.publish_time else None
        if handle(lambda: parse_event(message.data), settings, published=published):
            message.ack()
        else:
            message.nack()

    return on_message
