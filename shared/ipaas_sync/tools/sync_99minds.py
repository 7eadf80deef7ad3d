"""The 99minds -> iPaaS.com direction's operator side: the queue message, its queue, and manual sync.

One place builds the message a 99minds webhook produces (`message_body`, the InboundMessage contract the hook
ingress writes): `ipaas-sync sync --source 99minds` (manual sync) and `ipaas-sync initialize --source 99minds`
(backfill) put exactly that on the 99minds -> iPaaS.com queue, with the trigger as the event (`manual_sync`,
`initialize`); LoyaltyTransferFunction does the rest (so the result is in its outcome log line and the ledger,
and a failure lands in its DLQ like any other).

As iPaaS.com's Manual Sync does, a record is named by its 99minds id (`transaction_a3c44bd1f3bf8b1c2f`: a
loyalty card transaction, `customer_35b4d7776af9ac875a`: a customer); the id's prefix tells the kind, `--entity
customer|transaction` overrides it.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.errors import ConfigurationError
from ..core.models.inbound import MANUAL_SYNC_EVENT, InboundMessage
from ..core.settings import SubscriptionRegistry, SubscriptionSettings, load_registry
from ..destinations.ninetynine_minds.settings import NinetyNineMindsSettings
from .enqueue import Target

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_sqs import SQSClient

PREFIXES = {"transaction_": "loyalty_transaction", "customer_": "customer"}
ENTITY_KINDS = {"customer": "customer", "transaction": "loyalty_transaction"}  # `--entity` -> message kind
QUEUE_SUFFIX = "-from-99minds"  # the template's QueueName: ${AWS::StackName}-from-99minds
INITIALIZE_EVENT = "initialize"


def kind_of_id(record_id: str, kind: str | None = None) -> str:
    if kind:
        return kind
    for prefix, found in PREFIXES.items():
        if record_id.startswith(prefix):
            return found
    raise ValueError(
        f"cannot tell the kind of '{record_id[:60]}' from its prefix ({', '.join(PREFIXES)}); "
        f"give --entity transaction (a loyalty card transaction) or --entity customer"
    )


def kind_of_entity(entity: str | None) -> str | None:
    if entity is None:
        return None
    if entity not in ENTITY_KINDS:
        raise ValueError(f"99minds sends {' and '.join(ENTITY_KINDS)} records to iPaaS.com, not '{entity}'")
    return ENTITY_KINDS[entity]


def message_body(kind: str, record_id: str, destination: str, event: str, tracking_guid: str | None = None) -> str:
    """The queue message of one 99minds record, as the hook ingress writes it for a webhook."""
    return InboundMessage(
        kind=kind, id=record_id, destination=destination, event=event, tracking_guid=tracking_guid or str(uuid.uuid4())
    ).model_dump_json(exclude_none=True)


def destination_of(registry: SubscriptionRegistry[SubscriptionSettings], wanted: str | None) -> str:
    """The 99minds subscription: the one named, else the only one configured."""
    if wanted:
        try:
            settings = registry.get(wanted)
        except ConfigurationError as exc:
            raise ValueError(exc.message) from None
        if not isinstance(settings, NinetyNineMindsSettings):
            raise ValueError(f"destination '{wanted}' is a {settings.platform} subscription, not a 99minds one")
        return settings.system_id
    found = []
    for system_id in registry.system_ids():
        try:
            if isinstance(registry.get(system_id), NinetyNineMindsSettings):
                found.append(system_id)
        except ConfigurationError:
            continue
    if len(found) != 1:
        raise ValueError(f"{len(found)} usable 99minds subscriptions are configured; name one with --destination")
    return found[0]


def queue_url(sqs: SQSClient, *, stack: str | None = None, url: str | None = None) -> str:
    """The 99minds -> iPaaS.com queue: --queue-url, else <stack>-from-99minds (--stack, STACK_NAME), else
    FROM_99MINDS_QUEUE_URL (the hook ingress's own setting)."""
    if url:
        return url
    stack = stack or os.environ.get("STACK_NAME")
    if stack:
        return sqs.get_queue_url(QueueName=f"{stack}{QUEUE_SUFFIX}")["QueueUrl"]
    if os.environ.get("FROM_99MINDS_QUEUE_URL"):
        return os.environ["FROM_99MINDS_QUEUE_URL"]
    raise ValueError(
        "name the queue: --stack <stack-name> (or STACK_NAME), --queue-url <FromNinetyNineMindsQueueUrl>, "
        "or FROM_99MINDS_QUEUE_URL"
    )


def target(
    entity: str,
    destination: str | None,
    *,
    stack: str | None = None,
    url: str | None = None,
    sqs: SQSClient | None = None,
    registry: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry,
) -> Target:
    """The 99minds subscription (named, or the only one) and the 99minds -> iPaaS.com queue."""
    import boto3

    reg = registry()
    system_id = destination_of(reg, destination)
    sqs = sqs or boto3.client("sqs")
    return Target(entity, system_id, reg.get(system_id), queue_url(sqs, stack=stack, url=url), sqs)


def sync(target: Target, ids: list[str], kind: str | None = None) -> Counter[str]:
    """Queue these 99minds records (every id's kind checked before anything is sent); counts by kind."""
    kinds = [(record_id, kind_of_id(record_id, kind)) for record_id in ids]
    target.send([message_body(k, record_id, target.destination, MANUAL_SYNC_EVENT) for record_id, k in kinds])
    return Counter(k for _, k in kinds)


def run_sync(args: argparse.Namespace, ids: list[str]) -> int:
    """`ipaas-sync sync --source 99minds ...` (tools/sync.py parses the arguments and the ids)."""
    found = target("loyalty", args.destination, stack=args.stack, url=args.queue_url)
    kinds = sync(found, ids, kind_of_entity(args.entity))
    shown = ", ".join(ids[:20]) + (f", ... ({len(ids) - 20} more)" if len(ids) > 20 else "")
    what = ", ".join(f"{n} {k.replace('_', ' ')}(s)" for k, n in sorted(kinds.items()))
    print(
        f"enqueued {sum(kinds.values())} 99minds record(s) ({what}) for iPaaS.com, subscription "
        f"{found.destination} ('{found.subscription.name}'), onto {found.queue}: {shown}"
    )
    return 0
