"""Customers to 99minds: create or update by the iPaaS.com link; an update with the same content is skipped."""

from __future__ import annotations

from ....core.errors import Skip
from ....core.models.ipaas import IpaasCustomer
from ....core.models.notification import TransferMessage
from ....core.models.outcome import Outcome
from ....ipaas.client import TABLE_CUSTOMER
from ....runtime.env import TransferEnv
from ....runtime.linked import upsert_linked
from ..client import NinetyNineMindsClient
from ..mapping import customer as customer_99minds
from ..settings import NinetyNineMindsSettings
from ..to_ipaas import customer_mapping as customer_99minds_to_ipaas


def transfer(customer: IpaasCustomer, msg: TransferMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    payload = customer_99minds.map_customer(customer, sub.store)
    client: NinetyNineMindsClient = env.partner(sub)
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
