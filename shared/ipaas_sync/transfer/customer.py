"""Customer transfer: fetch (or take the inline snapshot), validate, map, write to the destination."""
from __future__ import annotations

from collections.abc import Callable

from ..clients.ipaas import TABLE_CUSTOMER
from ..mapping import customer_99minds
from ..models.ipaas import IpaasCustomer
from ..models.notification import TransferMessage
from ..models.outcome import Outcome
from ..settings import SubscriptionSettings
from .env import TransferEnv
from .linked import upsert_linked
from .records import dispatch


def _to_99minds(customer: IpaasCustomer, msg: TransferMessage, sub: SubscriptionSettings,
                env: TransferEnv) -> Outcome:
    payload = customer_99minds.map_customer(customer, sub.store)
    client = env.partner(sub)
    what = f"customer {customer.id}"

    def create() -> str:
        return customer_99minds.customer_id_from_reply(client.upsert_customer(payload, what=what), what)

    def update(customer_id: str) -> str:
        client.upsert_customer(customer_99minds.as_update(payload, customer_id), what=what)
        return customer_id

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_CUSTOMER, payload=payload,
                         create=create, update=update)


# platform -> how a customer reaches it. A new destination adds one entry.
DESTINATIONS: dict[str, Callable[[IpaasCustomer, TransferMessage, SubscriptionSettings, TransferEnv], Outcome]] = {
    "99minds": _to_99minds,
}


def transfer_customer(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(msg, env, DESTINATIONS, IpaasCustomer, noun="customer")
