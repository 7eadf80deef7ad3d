"""The transfer of one record of each iPaaS.com entity: the registry's destination of its subscription does it
(runtime/dispatch.py); what is the entity's own, whatever the destination, is here: a transaction's mapping
filter (a filtered-out transaction is a deliberate Skip, not a failure) and what a delete means."""

from __future__ import annotations

from ..core.models.ipaas import IpaasCustomer, IpaasGiftCard, IpaasTransaction
from ..core.models.notification import TransferMessage
from ..core.models.outcome import Outcome
from ..mapping.transaction_filter import rejection
from .dispatch import dispatch
from .env import TransferEnv


def transfer_customer(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(msg, env, "customer", IpaasCustomer, noun="customer")


def transfer_transaction(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(
        msg,
        env,
        "transaction",
        IpaasTransaction,
        noun="transaction",
        delete_reason=f"transaction {msg.id}: deletes are not transferred to {{platform}} (a completed order is not withdrawn)",
        check=lambda txn, sub: rejection(txn, sub.transaction_filter),
    )


def transfer_giftcard(msg: TransferMessage, env: TransferEnv) -> Outcome:
    return dispatch(msg, env, "giftcard", IpaasGiftCard, noun="gift card")
