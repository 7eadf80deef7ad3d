"""Putting notifications on a destination's queue from an operator command (initialize, manual sync).

A destination (iPaaS System Id) names a subscription; its platform and the entity name the queue, exactly as
the hook ingress routes them. The queue URL comes from QUEUE_ROUTES when set (the ingress's own table),
else from the template's queue naming, "<stack>-<entity>-<platform>", with the stack from --stack or
STACK_NAME. Each notification is the message a hook would put there (the TransferMessage shape, no inline
record: the handler reads the current record from iPaaS.com), with a new tracking guid.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigurationError
from ..core.settings import SubscriptionRegistry, SubscriptionSettings, load_registry
from ..platform.queues import send_all

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class Target:
    entity: str
    destination: str
    subscription: SubscriptionSettings
    queue_url: str
    sqs: Any

    @property
    def queue(self) -> str:
        return self.queue_url.rstrip("/").rsplit("/", 1)[-1]

    def send(self, bodies: Sequence[str]) -> int:
        return send_all(self.sqs, self.queue_url, bodies) if bodies else 0


def notification(entity: str, verb: str, record_id: str, destination: str) -> str:
    """One queue message body, as the hook ingress would write it for this record."""
    return json.dumps(
        {
            "scope": f"{entity}/{verb}",
            "id": str(record_id),
            "destination": str(destination),
            "action": verb.upper(),
            "tracking_guid": str(uuid.uuid4()),
        }
    )


def resolve_target(
    entity: str,
    destination: str,
    *,
    stack: str | None = None,
    sqs: SQSClient | None = None,
    registry: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry,
) -> Target:
    """The subscription and the queue for (entity, destination); ValueError names what is missing."""
    import boto3
    from botocore.exceptions import ClientError

    try:
        sub = registry().get(str(destination))
    except ConfigurationError as exc:
        raise ValueError(exc.message) from None
    sqs = sqs or boto3.client("sqs")
    routes = os.environ.get("QUEUE_ROUTES")
    if routes:
        from ..ingress.hooks import QueueRoutes

        try:
            url = QueueRoutes.parse(routes).queue_for(entity, sub.platform)
        except ConfigurationError as exc:
            raise ValueError(exc.message) from None
        if url is None:
            raise ValueError(
                f"no queue for {entity} notifications to platform '{sub.platform}' (destination '{destination}') in QUEUE_ROUTES"
            )
        return Target(entity, str(destination), sub, url, sqs)
    stack = stack or os.environ.get("STACK_NAME")
    if not stack:
        raise ValueError("name the deployed stack with --stack (or STACK_NAME), or set QUEUE_ROUTES")
    name = f"{stack}-{entity}-{sub.platform}"
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" not in str(exc) and "QueueDoesNotExist" not in str(exc):
            raise
        raise ValueError(
            f"no queue {name}: the stack has no {entity} queue for platform '{sub.platform}' (destination '{destination}')"
        ) from None
    return Target(entity, str(destination), sub, url, sqs)
