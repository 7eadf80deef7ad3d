"""What a destination tells the rest of the product: one `Destination` per partner platform, listed once in
`destinations.REGISTRY`.

The registry is data, cheap to import (no client, no mapping): the template generator (scripts/destinations.py),
the sandbox stack, the settings loader and the tests read the same entries. A destination takes some of the
iPaaS.com entities (`ENTITIES`: each served by one function, one queue and DLQ per entity x destination) and may
send records back into iPaaS.com (`to_ipaas`: its own queue served by the LoyaltyTransferFunction).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entity:
    """An iPaaS.com entity the product transfers: its one name, and the function and queues that carry it."""

    name: str  # as in the message contract and the CLI: customer | transaction | giftcard
    logical: str  # the template's prefix of its queues: <logical><Destination>Queue / DLQ
    function: str  # the template's function serving every queue of the entity
    reserved_parameter: str  # the stack parameter of that function's reserved concurrency
    label: str  # as an operator reads it: "Customer", "Transaction", "Gift card"


# The entities, in the order the template lists them. `to-ipaas` is the direction back into iPaaS.com (one queue per
# destination that has it, served by LoyaltyTransferFunction).
ENTITIES: tuple[Entity, ...] = (
    Entity("customer", "Customer", "CustomerTransferFunction", "ReservedConcurrencyCustomerTransfer", "Customer"),
    Entity("transaction", "Transaction", "InvoiceTransferFunction", "ReservedConcurrencyInvoiceTransfer", "Transaction"),
    Entity("giftcard", "Giftcard", "GiftCardTransferFunction", "ReservedConcurrencyGiftCardTransfer", "Gift card"),
)
TO_IPAAS = Entity("to-ipaas", "From", "LoyaltyTransferFunction", "ReservedConcurrencyLoyaltyTransfer", "iPaaS.com")
ENTITY_BY_NAME = {entity.name: entity for entity in ENTITIES}


@dataclass(frozen=True)
class Destination:
    """One partner platform: its id (the subscription's "Platform" setting), its names, what it takes."""

    platform: str  # "99minds": the Platform setting, queue names (<stack>-customer-99minds), secret names
    package: str  # "ninetynine_minds": its folder's name (and its sandbox's: sandbox/<package>.py)
    logical: str  # "NinetyNineMinds": the template's logical ids (CustomerNinetyNineMindsQueue, ...)
    display: str  # "Mintsoft (Makini)": how the operator knows it (alarm descriptions, docs)
    entities: tuple[str, ...]  # the ENTITIES it takes from iPaaS.com, in the template's order
    to_ipaas: bool = False  # whether it sends records back into iPaaS.com (webhooks, sync --source)
    name: str = ""  # the subscription's default Name setting ("Mintsoft via Makini")
    # what a waiting DLQ message of a flow is, where more precise than "<Entity> transfers to <display>"
    dlq_notes: tuple[tuple[str, str], ...] = ()
    subscription_description: str = ""  # the subscription secret's Description in the template
    concurrency_note: str = ""  # what its Concurrency stack parameter says beyond the common sentence
    # "module:attribute" of its code, imported only when used (a function needs one destination's code, not all)
    settings: str = ""  # its subscription secret's settings model
    webhook_settings: str = ""  # its webhook-key secret's model, where it has more than the keys
    client: str = ""  # its adapter, built from its settings
    # entity -> its transfer of one record of it ("module:function"; runtime/dispatch.py calls it)
    transfers: tuple[tuple[str, str], ...] = ()

    @property
    def concurrency_parameter(self) -> str:
        return f"{self.logical}Concurrency"

    def queue(self, entity: Entity) -> str:
        """The logical id of its source queue for `entity` (or TO_IPAAS)."""
        return f"{entity.logical}{self.logical}Queue"

    def dlq(self, entity: Entity) -> str:
        return f"{entity.logical}{self.logical}DLQ"

    def queue_name(self, entity: Entity) -> str:
        """The queue's physical name after the stack name: customer-99minds, from-99minds."""
        return f"{'from' if entity is TO_IPAAS else entity.name}-{self.platform}"

    @property
    def subscription_secret(self) -> str:
        return f"{self.logical}SubscriptionSecret"

    @property
    def webhook_key_secret(self) -> str:
        return f"{self.logical}WebhookKeySecret"

    def dlq_note(self, entity: Entity) -> str:
        return dict(self.dlq_notes).get(entity.name) or f"{entity.label} transfers to {self.display} are waiting in the DLQ"

    def transfer(self, entity: str) -> Any:
        """Its transfer of one record of `entity` (loaded on first use), or None when it does not take it."""
        path = dict(self.transfers).get(entity)
        return load(path) if path else None

    def takes(self, entity: Entity) -> bool:
        return entity.name in self.entities if entity is not TO_IPAAS else self.to_ipaas

    def flows(self) -> tuple[Entity, ...]:
        """Every entity it takes, then the direction back into iPaaS.com where it has one."""
        return tuple(e for e in (*ENTITIES, TO_IPAAS) if self.takes(e))


def load(path: str) -> Any:
    """The object a registry entry names as "package.module:attribute"."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
