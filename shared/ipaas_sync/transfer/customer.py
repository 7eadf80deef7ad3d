"""Customer transfer: fetch (or take the inline snapshot), validate, map, write to the destination."""

from __future__ import annotations

from ..clients.ipaas import TABLE_CUSTOMER
from ..errors import Skip
from ..mapping import customer_99minds, customer_99minds_to_ipaas, customer_makini, customer_stamped
from ..models.ipaas import IpaasCustomer
from ..models.notification import TransferMessage
from ..models.outcome import Outcome
from ..settings import MakiniSettings, NinetyNineMindsSettings, StampedSettings
from .env import TransferEnv
from .linked import Found, upsert_linked
from .records import Destination, dispatch


def _to_99minds(customer: IpaasCustomer, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    payload = customer_99minds.map_customer(customer, sub.store)
    client = env.partner(sub)
    what = f"customer {customer.id}"

    def create() -> str:
        return customer_99minds.customer_id_from_reply(client.upsert_customer(payload, what=what), what)

    def update(customer_id: str) -> str:
        current = client.get_customer(customer_id, what=what)
        if current is not None and customer_99minds.same_content(
            payload, customer_99minds_to_ipaas.customer_from_reply(current, what)
        ):
            raise Skip(f"{what}: 99minds customer {customer_id} already has this content; nothing written")
        client.upsert_customer(customer_99minds.as_update(payload, customer_id), what=what)
        return customer_id

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_CUSTOMER, payload=payload, create=create, update=update)


def _to_stamped(customer: IpaasCustomer, msg: TransferMessage, sub: StampedSettings, env: TransferEnv) -> Outcome:
    """Stamped de-duplicates by email: a create for an email it already has updates that customer and
    answers with its id, which is then linked; later transfers update it by that id."""
    payload = customer_stamped.map_customer(customer)
    client = env.partner(sub)
    what = f"customer {customer.id}"

    def create() -> str:
        return customer_stamped.customer_id_from_reply(client.create_customer(payload, what=what), what)

    def update(customer_id: str) -> str:
        client.update_customer(customer_id, payload, what=what)
        return customer_id

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_CUSTOMER, payload=payload, create=create, update=update)


def _to_makini(customer: IpaasCustomer, msg: TransferMessage, sub: MakiniSettings, env: TransferEnv) -> Outcome:
    """Existence check by code (a paged read) before creating, so a create whose reply was lost is linked on
    redelivery instead of created twice. Makini's customer API has no update: a linked customer is skipped."""
    payload = customer_makini.map_customer(customer, sub.company)
    client = env.partner(sub)
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


# platform -> how a customer reaches it. A new destination adds one entry.
DESTINATIONS: dict[str, Destination[IpaasCustomer]] = {
    "99minds": _to_99minds,
    "stamped": _to_stamped,
    "makini": _to_makini,
}


def transfer_customer(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(msg, env, DESTINATIONS, IpaasCustomer, noun="customer")
