"""`ipaas-sync sync-99minds <99minds id>`: the Manual Sync of the 99minds -> iPaaS.com direction.

As iPaaS.com's Manual Sync does, it transfers one record by its 99minds id (`transaction_a3c44bd1f3bf8b1c2f`: a
loyalty card transaction, `customer_35b4d7776af9ac875a`: a customer) by putting the same message a webhook
would on the 99minds -> iPaaS.com queue; LoyaltyTransferFunction does the rest (so the result is in its
outcome log line, and a failure lands in its DLQ like any other). The id's prefix tells the kind; `--kind`
overrides it.
"""
from __future__ import annotations

import uuid

from .errors import ConfigurationError
from .models.inbound import MANUAL_SYNC_EVENT, InboundMessage
from .settings import NinetyNineMindsSettings, SubscriptionRegistry, load_registry

PREFIXES = {"transaction_": "loyalty_transaction", "customer_": "customer"}
QUEUE_SUFFIX = "-from-99minds"   # the template's QueueName: ${AWS::StackName}-from-99minds


def kind_of_id(record_id: str, kind: str | None = None) -> str:
    if kind:
        return kind
    for prefix, found in PREFIXES.items():
        if record_id.startswith(prefix):
            return found
    raise ValueError(f"cannot tell the kind of '{record_id[:60]}' from its prefix ({', '.join(PREFIXES)}); "
                     f"give --kind loyalty_transaction or --kind customer")


def destination_of(registry: SubscriptionRegistry, wanted: str | None) -> str:
    """The 99minds subscription: the one named, else the only one configured."""
    if wanted:
        settings = registry.get(wanted)
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


def manual_sync(record_id: str, *, queue_url: str, destination: str, kind: str | None = None, sqs=None,
                tracking_guid: str | None = None) -> dict:
    """Queue one 99minds record for transfer to iPaaS.com; returns what was sent and the SQS message id."""
    import boto3
    message = InboundMessage(kind=kind_of_id(record_id, kind), id=record_id, destination=destination,
                             event=MANUAL_SYNC_EVENT, tracking_guid=tracking_guid or str(uuid.uuid4()))
    reply = (sqs or boto3.client("sqs")).send_message(QueueUrl=queue_url,
                                                      MessageBody=message.model_dump_json(exclude_none=True))
    return {"message_id": reply["MessageId"], **message.model_dump(exclude_none=True)}


def _queue_url(args, sqs) -> str:
    import os
    if args.queue_url:
        return args.queue_url
    if args.stack:
        return sqs.get_queue_url(QueueName=f"{args.stack}{QUEUE_SUFFIX}")["QueueUrl"]
    if os.environ.get("FROM_99MINDS_QUEUE_URL"):
        return os.environ["FROM_99MINDS_QUEUE_URL"]
    raise ValueError("name the queue: --stack <stack-name>, --queue-url <FromNinetyNineMindsQueueUrl>, or "
                     "FROM_99MINDS_QUEUE_URL")


def _run(args) -> int:
    import boto3
    sqs = boto3.client("sqs")
    try:
        destination = destination_of(load_registry(), args.destination)
    except ConfigurationError as exc:
        raise ValueError(exc.message) from None
    for record_id in args.ids:
        sent = manual_sync(record_id, queue_url=_queue_url(args, sqs), destination=destination, kind=args.kind,
                           sqs=sqs)
        print(f"queued 99minds {sent['kind'].replace('_', ' ')} {record_id} for destination {destination} "
              f"(tracking guid {sent['tracking_guid']}, message {sent['message_id']})")
    return 0


def register_cli(subparsers) -> None:
    sync = subparsers.add_parser(
        "sync-99minds", help="transfer 99minds loyalty transactions or customers to iPaaS.com by their 99minds id",
        description=__doc__.split("\n\n")[1])
    sync.add_argument("ids", nargs="+", metavar="ID", help="99minds id(s), e.g. transaction_a3c44bd1f3bf8b1c2f")
    sync.add_argument("--kind", choices=("loyalty_transaction", "customer"), help="default: from the id's prefix")
    sync.add_argument("--destination", help="iPaaS System Id of the 99minds subscription (default: the only one)")
    sync.add_argument("--stack", help="the stack whose queue to use (<stack>-from-99minds)")
    sync.add_argument("--queue-url", help="the FromNinetyNineMindsQueueUrl output")
    sync.set_defaults(run=_run)
