"""Customers to Stamped.io: create (de-duplicated by email) or update by the iPaaS.com link."""

from __future__ import annotations

from ....core.models.ipaas import IpaasCustomer
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....ipaas.client import TABLE_CUSTOMER
from ....runtime.env import TransferEnv
from ....runtime.linked import upsert_linked
from ..client import StampedClient
from ..mapping import customer as customer_stamped
from ..settings import StampedSettings


def transfer(customer: IpaasCustomer, msg: TransferMessage, sub: StampedSettings, env: TransferEnv) -> Outcome:
    """Stamped de-duplicates by email: a create for an email it already has updates that customer and
    answers with its id, which is then linked; later transfers update it by that id."""
    payload = customer_stamped.map_customer(customer)
    client: StampedClient = env.partner(sub)
    what = f"customer {customer.id}"

    def create() -> str:
        return customer_stamped.customer_id_from_reply(client.create_customer(payload, what=what), what)

    def update(customer_id: str) -> str:
        client.update_customer(customer_id, payload, what=what)
        return customer_id

    return upsert_linked(env=env, sub=sub, msg=msg, table=TABLE_CUSTOMER, payload=payload, create=create, update=update)
