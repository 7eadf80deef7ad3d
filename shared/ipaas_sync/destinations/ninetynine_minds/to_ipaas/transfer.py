"""99minds -> iPaaS.com: a loyalty card transaction or a customer that changed in 99minds, written into iPaaS.com
exactly once (docs/ninetynine-minds-to-ipaas.md).

The message carries identity only; the record is fetched from 99minds (the shared 99minds rate limit, as the
FROM direction) and written to iPaaS.com (the subscription's "To iPaaS" limit).

Loyalty transaction, decided by what iPaaS.com holds, never by which webhook fired:
  1. linked (LookupSpaceport, table `transaction`, external id = the TransactionNumber): the loyalty custom
     fields are written onto that Ticket;
  2. else, the 99minds transaction names an order (ClientOrderId) that exists in iPaaS.com: the loyalty custom
     fields are written onto that order, nothing else of it changes, no Ticket, no link (the order's link to
     this subscription belongs to the order workflow);
  3. else a Ticket: the customer is resolved through its link (not resolvable -> DLQ, replayable); a Ticket
     already carrying the TransactionNumber (a create whose reply was lost) is linked, never created twice;
     otherwise it is created with the link nested, and the link is written.
A Ticket create leaves a pending marker (runtime/pending.py, as gift card writes do) until its answer is read: a retry
that finds the marker still pending and the Ticket in iPaaS.com (by its link or its TransactionNumber) records
the truth, "created" by the earlier attempt and recognised on the retry, not "skipped" or "linked".
Customer: linked -> only the loyalty custom fields change; else an iPaaS.com customer with the same email is
linked (and gets the loyalty fields; its identity is kept); else it is created with identity + loyalty fields.
Every write runs under Powertools idempotency keyed on the 99minds identity and a hash of what is written
(a real change still goes through; a redelivery or a replay with a new message id writes nothing). A custom
field write that would change nothing is not sent, so iPaaS.com fires no outbound hook for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....core.errors import ConfigurationError, InvalidRecord, PermanentError, Skip, UnresolvedReference
from ....core.models.inbound import ENTITY, InboundMessage
from ....core.models.outcome import Outcome
from ....ipaas.client import TABLE_CUSTOMER, TABLE_TRANSACTION, IpaasClient
from ....runtime.env import TransferEnv
from ....runtime.idempotency import payload_hash, run_once
from ....runtime.pending import PENDING, default_journal
from ..client import NinetyNineMindsClient
from ..settings import NinetyNineMindsSettings
from . import customer_mapping as cm
from . import loyalty_mapping as lt


def _write_fields(ipaas: IpaasClient, entity: str, record_id: str, fields: list[dict[str, str]], what: str) -> bool:
    """Set these custom fields on an iPaaS.com record: read it, PUT it back exactly as read with the fields
    merged. Returns False (and writes nothing) when it already has these values."""
    record = ipaas.get_record(entity, record_id)
    if lt.has_values(record, fields):
        return False
    ipaas.update_record(entity, record_id, lt.with_custom_fields(record, fields), what=what)
    return True


def _find_transaction(ipaas: IpaasClient, number: str, what: str) -> dict[str, Any] | None:
    found = [
        t
        for t in ipaas.search("transaction", what=what, TransactionNumber=number)
        if str(t.get("transaction_number", "")).strip() == number
    ]
    return found[0] if found else None


def _loyalty_transaction(msg: InboundMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    subject = msg.describe()
    client: NinetyNineMindsClient = env.partner(sub)
    body = client.get_loyalty_transaction(msg.id, what=subject)
    if body is None:
        raise PermanentError(f"{subject}: 99minds has no such loyalty transaction (HTTP 404)")
    txn = lt.parse(lt.record_from_reply(body, subject), subject, expected_id=msg.id)
    if reason := lt.skip_reason(txn, sub.skipped_loyalty_transaction_types, subject):
        raise Skip(reason)
    number = lt.transaction_number(txn.id, sub.loyalty_transaction_number_prefix, sub.loyalty_transaction_number_separator)
    fields = lt.custom_fields(
        txn, points_field=sub.loyalty_points_field, type_field=sub.loyalty_type_field, card_field=sub.loyalty_card_field
    )
    ipaas = env.ipaas(sub)
    journal = default_journal()
    create_key = journal.key({"destination": sub.system_id, "direction": "to-ipaas", "ticket": number})

    def recognised(ticket_id: str) -> dict[str, Any] | None:
        """The Ticket an earlier attempt created though its answer was lost (its marker still pending), else None."""
        marker = journal.get(create_key)
        if marker is None or marker.state != PENDING:
            return None
        _write_fields(ipaas, "transaction", ticket_id, fields, f"{subject} (Ticket {ticket_id})")
        journal.applied(create_key, after=None, card_id=ticket_id)
        return {"action": "created", "target": "ticket", "ipaas_id": ticket_id, "written": True, "recovered": True}

    def write() -> dict[str, Any]:
        linked = ipaas.lookup_spaceport("transaction", TABLE_TRANSACTION, number)
        if linked:
            if found := recognised(linked):
                return found
            written = _write_fields(ipaas, "transaction", linked, fields, f"{subject} (Ticket {linked})")
            return {"action": "updated", "target": "ticket", "ipaas_id": linked, "written": written}
        if txn.client_order_id:
            order = _find_transaction(ipaas, txn.client_order_id, f"{subject} order {txn.client_order_id}")
            if order is not None and str(order.get("type") or "") != lt.TICKET:
                order_id = str(order["id"])
                written = _write_fields(ipaas, "transaction", order_id, fields, f"{subject} (order {order_id})")
                return {"action": "updated", "target": "order", "ipaas_id": order_id, "written": written}
        if not txn.customer_id:
            raise InvalidRecord(f"{subject}: missing required field 'CustomerId' (a Ticket needs its customer)")
        customer = ipaas.lookup_spaceport("customer", TABLE_CUSTOMER, txn.customer_id)
        if not customer:
            raise UnresolvedReference(
                f"Unable to resolve customer {txn.customer_id} of {subject}: no iPaaS.com customer is linked to it "
                f"(table 'customer'); transfer the customer, then replay this message"
            )
        existing = _find_transaction(ipaas, number, f"{subject} ({number})")
        if existing is not None:  # an earlier create whose reply was lost
            if found := recognised(str(existing["id"])):
                return found
            _write_fields(ipaas, "transaction", str(existing["id"]), fields, f"{subject} (Ticket {existing['id']})")
            return {"action": "linked", "target": "ticket", "ipaas_id": str(existing["id"]), "written": True}
        journal.begin(create_key, operation="ticket", card=number, before=None)
        created = ipaas.create_record(
            "transaction",
            lt.ticket(
                txn, number=number, status=sub.loyalty_ticket_status, customer_id=customer, system_id=sub.system_id, fields=fields
            ),
            what=f"{subject} ({number})",
        )
        journal.applied(create_key, after=None, card_id=str(created["id"]))
        return {"action": "created", "target": "ticket", "ipaas_id": str(created["id"]), "written": True}

    identity = {
        "destination": sub.system_id,
        "direction": "to-ipaas",
        "entity": "loyalty_transaction",
        "record_id": txn.id,
        "payload": payload_hash({"fields": fields, "order": txn.client_order_id, "customer": txn.customer_id}),
    }
    result, replayed = run_once(identity, write)
    if result["target"] == "ticket" and result["action"] in ("created", "linked"):
        # after a replay too (idempotent): heals a failure between the create and the write-back
        ipaas.update_external_id("transaction", TABLE_TRANSACTION, result["ipaas_id"], number, msg.tracking_guid)
    details = {
        "kind": msg.kind,
        "event": msg.event,
        "target": result["target"],
        "transaction_number": number,
        "points": lt.wire_points(txn.amount),
        "transaction_type": txn.type,
        "client_order_id": txn.client_order_id,
    }
    return _outcome(msg, sub, result, replayed, details)


def _customer(msg: InboundMessage, sub: NinetyNineMindsSettings, env: TransferEnv) -> Outcome:
    subject = msg.describe()
    client: NinetyNineMindsClient = env.partner(sub)
    body = client.get_customer(msg.id, what=subject)
    if body is None:
        raise PermanentError(f"{subject}: 99minds has no such customer (HTTP 404)")
    raw = cm.customer_from_reply(body, subject)
    card = cm.card_from_reply(client.loyalty_cards(msg.id, what=f"{subject} loyalty card"), subject)
    fields = cm.loyalty_fields(card, subject, card_field=sub.customer_card_field, points_field=sub.customer_points_field)
    ipaas = env.ipaas(sub)

    def write() -> dict[str, Any]:
        linked = ipaas.lookup_spaceport("customer", TABLE_CUSTOMER, msg.id)
        if linked:
            written = bool(fields) and _write_fields(ipaas, "customer", linked, fields, f"{subject} ({linked})")
            return {"action": "updated", "target": "customer", "ipaas_id": linked, "written": written}
        new = cm.new_customer(raw, ninetynine_id=msg.id, system_id=sub.system_id, fields=fields, subject=subject)
        same_email = [
            c
            for c in ipaas.search("customer", what=subject, EmailAddress=new["email_address"])
            if str(c.get("email_address", "")).strip().lower() == new["email_address"]
        ]
        if same_email:  # the customer is in iPaaS.com already (or our create's reply was lost): link, keep identity
            found = str(same_email[0]["id"])
            written = bool(fields) and _write_fields(ipaas, "customer", found, fields, f"{subject} ({found})")
            return {"action": "linked", "target": "customer", "ipaas_id": found, "written": written}
        created = ipaas.create_record("customer", new, what=subject)
        return {"action": "created", "target": "customer", "ipaas_id": str(created["id"]), "written": True}

    identity = {
        "destination": sub.system_id,
        "direction": "to-ipaas",
        "entity": "customer",
        "record_id": msg.id,
        "payload": payload_hash({"fields": fields, "identity": {k: raw.get(k) for k in cm.REQUIRED}}),
    }
    result, replayed = run_once(identity, write)
    if result["action"] in ("created", "linked"):
        ipaas.update_external_id("customer", TABLE_CUSTOMER, result["ipaas_id"], msg.id, msg.tracking_guid)
    return _outcome(msg, sub, result, replayed, {"kind": msg.kind, "event": msg.event, "target": "customer"})


LOST_ANSWER_RECOGNISED = "created by an earlier attempt whose answer was lost; recognised on this retry, not created again"


def _outcome(
    msg: InboundMessage, sub: NinetyNineMindsSettings, result: dict[str, Any], replayed: bool, details: dict[str, Any]
) -> Outcome:
    reason: str | None
    if replayed:
        status, reason = "duplicate", "already transferred to iPaaS.com with the same content"
    elif not result.get("written"):
        status, reason = "skipped", f"iPaaS.com {result['target']} {result['ipaas_id']} already has these values"
    elif result.get("recovered"):
        status, reason = "created", LOST_ANSWER_RECOGNISED
    else:
        status = result["action"]
        reason = "found in iPaaS.com; linked, nothing created" if status == "linked" else None
    return Outcome(
        status=status,
        entity=ENTITY,
        record_id=msg.id,
        destination=sub.system_id,
        platform=sub.platform,
        external_id=result["ipaas_id"],
        tracking_guid=msg.tracking_guid,
        reason=reason,
        details={
            k: v
            for k, v in {
                **details,
                "recovered": result.get("recovered"),
                # the iPaaS.com record written: the ledger finds this outcome by its id too (`ipaas-sync status`)
                "ipaas_entity": "customer" if result["target"] == "customer" else "transaction",
            }.items()
            if v is not None
        },
    )


# message kind -> its transfer. A new 99minds data set (e.g. VIP tiers) adds one entry.
KINDS: dict[str, Callable[[InboundMessage, NinetyNineMindsSettings, TransferEnv], Outcome]] = {
    "loyalty_transaction": _loyalty_transaction,
    "customer": _customer,
}


def transfer_from_99minds(msg: InboundMessage, env: TransferEnv) -> Outcome:
    sub = env.subscription(msg.destination)
    if not isinstance(sub, NinetyNineMindsSettings):
        raise ConfigurationError(
            f"{msg.describe()}: destination '{msg.destination}' is a {sub.platform} subscription, not a 99minds one"
        )
    if msg.deleted:
        raise Skip(f"{msg.describe()}: deletes in 99minds are not transferred to iPaaS.com (event '{msg.event}')")
    return KINDS[msg.kind](msg, sub, env)
