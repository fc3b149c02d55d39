"""Pub/Sub adapter: topics, subscriptions and publishing (the emulator included)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
from collections.abc import Sequence
from typing import Any

from promoter.chain import Promoted
from promoter.errors import PublishFailed

TOPIC = "cloud-builds"


def _clients() -> tuple[Any, Any]:
    # Imported on first use: the client library costs more to import than the whole function.
    import google.cloud.pubsub_v1 as pubsub_v1

    return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()


def ensure_subscription(
    project: str, subscription: str, push_to: str | None = None, *, topic_name: str = TOPIC
) -> str:
    """Create the topic (`cloud-builds`) and a subscription (push if `push_to`); return the
    topic's path."""
    from google.api_core.exceptions import AlreadyExists

    publisher, subscriber = _clients()
    topic = publisher.topic_path(project, topic_name)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(name=topic)
    path = subscriber.subscription_path(project, subscription)
    push_config = {"push_endpoint": push_to} if push_to else {}
    try:
        subscriber.create_subscription(
            name=path, topic=topic, push_config=push_config, ack_deadline_seconds=60
        )
    except AlreadyExists:
        subscriber.modify_push_config(subscription=path, push_config=push_config)
    subscriber.close()
    return str(topic)


PUBLISH_TIMEOUT = 10.0


def publish(topic: str, data: bytes, *, timeout: float = 30, **attributes: str) -> str:
    """Publish one message and return its id."""
    publisher, _ = _clients()
    return str(publisher.publish(topic, data, **attributes).result(timeout=timeout))


def announce(topic: str, messages: Sequence[Promoted], *, timeout: float = PUBLISH_TIMEOUT) -> None:
    """Publish each `promoted` message on `topic`, or raise PublishFailed."""
    from google.api_core.exceptions import GoogleAPIError

    try:
        publisher = _publisher()
        futures = [publisher.publish(topic, m.data(), **m.attributes()) for m in messages]
        for future in futures:
            future.result(timeout=timeout)
    except (GoogleAPIError, TimeoutError, concurrent.futures.TimeoutError) as err:
        raise PublishFailed(f"publishing on {topic} failed: {type(err).__name__}: {err}") from None


@functools.cache
def _publisher() -> Any:
    import google.cloud.pubsub_v1 as pubsub_v1

    return pubsub_v1.PublisherClient()
