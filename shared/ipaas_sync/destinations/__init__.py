"""The destinations: the one registry of the partner platforms the product writes to (spec.Destination).

A new destination is one folder beside this file and one entry in REGISTRY; everything keyed on a platform
(the settings models, the adapters, the template's queues, secrets, events, policies, routes, alarms and outputs,
the sandbox's servers) is derived from it. docs/architecture.md has the checklist.
"""

from __future__ import annotations

from .spec import ENTITIES, ENTITY_BY_NAME, TO_IPAAS, Destination, Entity, load

NINETYNINE_MINDS = Destination(
    platform="99minds",
    package="ninetynine_minds",
    logical="NinetyNineMinds",
    display="99minds",
    name="99minds",
    entities=("customer", "transaction", "giftcard"),
    to_ipaas=True,
    dlq_notes=(
        (
            "giftcard",
            "Gift card transfers to 99minds are waiting in the DLQ (bad records, configuration, or an uncertain outcome "
            "that needs a human)",
        ),
        (
            "transaction",
            "Order/return transfers to the 99minds order workflow are waiting in the DLQ (unresolved customers, conflicts, "
            "invalid refund data, ...)",
        ),
        (
            "to-ipaas",
            "99minds loyalty transactions or customers are waiting in the DLQ on their way to iPaaS.com (an unresolved "
            "customer, a missing field, configuration)",
        ),
    ),
    subscription_description=(
        "99minds subscription settings (JSON, names as in iPaaS.com). Fill in with `aws secretsmanager put-secret-value`; "
        "until then transfers to it fail as configuration errors and wait in the DLQ."
    ),
    concurrency_note="the 99minds subscription's Concurrent Connections setting; 2 is the SQS minimum",
    settings="ipaas_sync.destinations.ninetynine_minds.settings:NinetyNineMindsSettings",
    webhook_settings="ipaas_sync.destinations.ninetynine_minds.settings:NinetyNineMindsWebhookSettings",
    client="ipaas_sync.destinations.ninetynine_minds.client:NinetyNineMindsClient",
    transfers=(
        ("customer", "ipaas_sync.destinations.ninetynine_minds.transfer.customer:transfer"),
        ("transaction", "ipaas_sync.destinations.ninetynine_minds.transfer.transaction:transfer"),
        ("giftcard", "ipaas_sync.destinations.ninetynine_minds.transfer.giftcard:transfer"),
    ),
)
STAMPED = Destination(
    platform="stamped",
    package="stamped",
    logical="Stamped",
    display="Stamped.io",
    name="Stamped.io",
    entities=("customer",),
    subscription_description=(
        "Stamped.io subscription settings (JSON, names as in iPaaS.com). API User / API Password duplicate the public / "
        "private key: leave them empty or enter the same values. Until filled in, transfers to it fail as configuration "
        "errors and wait in the DLQ."
    ),
    concurrency_note="the Stamped.io subscription's Concurrent Connections setting, default 2; 2 is the SQS minimum",
    settings="ipaas_sync.destinations.stamped.settings:StampedSettings",
    client="ipaas_sync.destinations.stamped.client:StampedClient",
    transfers=(("customer", "ipaas_sync.destinations.stamped.transfer.customer:transfer"),),
)
MAKINI = Destination(
    platform="makini",
    package="makini",
    logical="Makini",
    display="Mintsoft (Makini)",
    name="Mintsoft via Makini",
    entities=("customer", "transaction"),
    dlq_notes=(("transaction", "Sales order transfers to Mintsoft (Makini) are waiting in the DLQ"),),
    subscription_description=(
        "Mintsoft-through-Makini subscription settings (JSON). API Token is the connection's Makini bearer token (a "
        "changed Mintsoft credential means reconnecting for a new token). Until filled in, transfers to it fail as "
        "configuration errors and wait in the DLQ."
    ),
    concurrency_note="the Makini subscription's Concurrent Connections setting; 2 is the SQS minimum",
    settings="ipaas_sync.destinations.makini.settings:MakiniSettings",
    client="ipaas_sync.destinations.makini.client:MakiniClient",
    transfers=(
        ("customer", "ipaas_sync.destinations.makini.transfer.customer:transfer"),
        ("transaction", "ipaas_sync.destinations.makini.transfer.transaction:transfer"),
    ),
)

# The one list. Its order is the template's (queues, events, secrets, routes).
REGISTRY: tuple[Destination, ...] = (NINETYNINE_MINDS, STAMPED, MAKINI)
_BY_PLATFORM = {d.platform: d for d in REGISTRY}
PLATFORMS = tuple(_BY_PLATFORM)


def by_platform(platform: str) -> Destination:
    """The destination whose Platform setting is `platform` (KeyError naming the known ones otherwise)."""
    try:
        return _BY_PLATFORM[platform]
    except KeyError:
        raise KeyError(f"no destination '{platform}' (known: {', '.join(PLATFORMS)})") from None


__all__ = [
    "ENTITIES",
    "ENTITY_BY_NAME",
    "MAKINI",
    "NINETYNINE_MINDS",
    "PLATFORMS",
    "REGISTRY",
    "STAMPED",
    "TO_IPAAS",
    "Destination",
    "Entity",
    "by_platform",
    "load",
]
