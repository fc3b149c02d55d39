"""Pub/Sub adapter: topics, subscriptions and publishing (the emulator included)."""

from __future__ import annotations

import contextlib
from typing import Any

TOPIC = "cloud-builds"


def _clients() -> tuple[Any, Any]:
    # Imported on first use: the client library costs more to import than the whole function.
    import google.cloud.pubsub_v1 as pubsub_v1

    return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()


def ensure_subscription(project: str, subscription: str, push_to: str | None = None) -> str:
    """Create topic `cloud-builds` and a subscription (push if `push_to`); return the topic."""
    from google.api_core.exceptions import AlreadyExists

    publisher, subscriber = _clients()
    topic = publisher.topic_path(project, TOPIC)
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


def publish(topic: str, data: bytes, **attributes: str) -> str:
    """Publish one message and return its id."""
    publisher, _ = _clients()
    return str(publisher.publish(topic, data, **attributes).result(timeout=30))
