"""Customers to Mintsoft through Makini: existence check by code, then create; no update."""

from __future__ import annotations

from ....core.errors import Skip
from ....core.models.ipaas import IpaasCustomer
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....ipaas.client import TABLE_CUSTOMER
from ....runtime.env import TransferEnv
from ....runtime.linked import Found, upsert_linked
from ..client import MakiniClient
from ..mapping import customer as customer_makini
from ..settings import MakiniSettings


def transfer(customer: IpaasCustomer, msg: TransferMessage, sub: MakiniSettings, env: TransferEnv) -> Outcome:
    """Existence check by code (a paged read) before creating, so a create whose reply was lost is linked on
    redelivery instead of created twice. Makini's customer API has no update: a linked customer is skipped."""
    payload = customer_makini.map_customer(customer, sub.company)
    client: MakiniClient = env.partner(sub)
    what = f"customer {customer.id}"

    def create() -> str | Found:
        existing = client.find_customer(payload["code"], what=what)
        if existing and existing.get("key"):
            return Found(str(existing["key"]))
        return customer_makini.key_from_reply(client.create_customer(payload, what=what), what)

    def update(key: str) -> str:
        raise Skip(
            f"{what} is already in Makini (key {key}); Makini's customer API has no update, so changes to it are not carried"
        )

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_CUSTOMER, payload=payload, create=create, update=update)
