"""The transfer ledger: one write per outcome from the real handlers, status and report output, a ledger that
cannot be written never failing a transfer, the bounded history, and the write units it costs."""

from __future__ import annotations

import os
import typing

import boto3
import pytest

from ipaas_sync.core.models.outcome import Outcome, Status
from ipaas_sync.runtime import ledger
from ipaas_sync.tools import ledger_reports
from ipaas_sync.tools.cli import main
from sandbox.stack import NINETYNINE_SYSTEM_ID
from tests.integration.conftest import add_customer, json_lines, notification

QUEUE = "CustomerNinetyNineMindsQueue"


def items(stack, entity: str, record_id: str) -> dict[str, dict]:
    table = ledger.Ledger(os.environ["LEDGER_TABLE"])
    return {i["destination"]: i for i in table.items(entity, record_id)}


def only(stack, entity: str, record_id: str) -> dict:
    found = items(stack, entity, record_id)
    assert list(found) == [NINETYNINE_SYSTEM_ID], found
    return found[NINETYNINE_SYSTEM_ID]


def test_every_handler_outcome_is_in_the_ledger(stack, capsys):
    for id_ in ("501", "502", "503"):
        add_customer(stack, id_)
    existing = stack.ninetynine.new_id("customer")
    stack.ninetynine.customers[existing] = {
        "id": existing,
        "email": "ada502@example.com",
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
    }
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "502", existing)
    # 503: the first delivery fails transiently (a create is not retried inside the call), the second creates it
    stack.ninetynine.faults.fail(1, status=503, path="/api/v1/ipaas/customers", method="POST")
    stack.send(QUEUE, notification("503"))
    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])
    for body in (
        notification("501"),
        notification("502", scope="customer/updated"),
        notification("501", guid="guid-501-again"),
        notification("504", scope="customer/deleted"),
        notification("509"),
    ):
        stack.send(QUEUE, body)
    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])

    created = only(stack, "customer", "501")
    assert created["status"] == "duplicate" and created["outcomes"] == 2
    assert [h["s"] for h in created["history"]] == ["created", "duplicate"]
    assert created["external_id"] == stack.ipaas.link(NINETYNINE_SYSTEM_ID, "customer", "501")
    assert created["history"][0]["g"] == "guid-501" and created["history"][1]["g"] == "guid-501-again"
    assert only(stack, "customer", "502")["status"] == "updated"
    assert only(stack, "customer", "502")["external_id"] == existing
    skipped = only(stack, "customer", "504")
    assert skipped["status"] == "skipped" and "deletes are not transferred" in skipped["reason"]
    parked = only(stack, "customer", "509")
    dlq = stack.messages("CustomerNinetyNineMindsDLQ")
    assert parked["status"] == "dead-lettered" and parked["failure_kind"] == "permanent"
    assert parked["dlq_message_id"] == dlq[0]["MessageId"] and "HTTP 404" in parked["reason"]
    retried = only(stack, "customer", "503")
    assert [(h["s"], h.get("a")) for h in retried["history"]] == [("retrying", 1), ("created", None)]
    assert retried["history"][0]["k"] == "transient" and "reason" not in retried  # latest outcome's fields only

    # status: newest first, the DLQ message and the commands to inspect and replay it
    capsys.readouterr()  # the handlers' log lines
    assert main(["status", "--entity", "customer", "--id", "509"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"customer 509 -> destination {NINETYNINE_SYSTEM_ID}: dead-lettered at ")
    assert "dead-lettered" in out[1] and "[permanent:PermanentError]" in out[1] and "(tracking guid-509)" in out[1]
    dlq_name = stack.deployment.physical["CustomerNinetyNineMindsDLQ"]["QueueName"]
    assert f"  parked in {dlq_name} as message {dlq[0]['MessageId']}" in out
    assert f"    inspect: ipaas-sync dlq show {dlq_name} {dlq[0]['MessageId']}" in out
    replay = next(line for line in out if line.startswith("    replay:"))
    assert f"ipaas-sync dlq replay {dlq_name} --entity customer --destination {NINETYNINE_SYSTEM_ID} --reason" in replay
    assert main(["status", "--entity", "customer", "--id", "501", "--destination", NINETYNINE_SYSTEM_ID]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "duplicate" in lines[1] and "created" in lines[2]  # most recent first
    assert main(["status", "--entity", "customer", "--id", "777"]) == 1
    assert "no ledger entry for customer 777" in capsys.readouterr().out

    # report: latest status per record by destination x entity x status, failure reasons without ids
    assert main(["report", "--since", "1h"]) == 0
    report = capsys.readouterr().out
    assert "latest outcome per record, last 1h: 5 record(s)" in report
    for status in ("created", "duplicate", "updated", "skipped", "dead-lettered"):
        assert any(line.split()[:3] == [NINETYNINE_SYSTEM_ID, "customer", status] for line in report.splitlines())
    assert "[permanent:PermanentError] iPaaS.com has no customer <id> (HTTP 404)" in report
    assert main(["report", "--destination", "9999"]) == 0
    assert "0 record(s)" in capsys.readouterr().out


def test_a_ledger_that_cannot_be_written_never_fails_or_delays_a_transfer(stack, monkeypatch, log_output):
    ids = ("601", "602", "603", "604", "605", "606")
    for id_ in ids:
        add_customer(stack, id_)
    monkeypatch.setenv("LEDGER_TABLE", "no-such-table")
    writes = []
    real_write = ledger.Ledger.write
    monkeypatch.setattr(ledger.Ledger, "write", lambda self, o, at=None: writes.append(o) or real_write(self, o, at))
    for id_ in ids[:3]:
        stack.send(QUEUE, notification(id_))
    stack.drain(max_seconds=30, functions=["CustomerTransferFunction"])
    # the writes under way when the first one failed (records run concurrently) each failed and warned
    tried = len(writes)
    warnings = [line for line in json_lines(log_output) if "ledger write failed" in line.get("message", "")]
    assert 1 <= tried == len(warnings) and {w["level"] for w in warnings} == {"WARNING"}
    # after a failure the ledger is skipped (no timeout per record): the next records try no write at all
    for id_ in ids[3:]:
        stack.send(QUEUE, notification(id_))
    stack.drain(max_seconds=30, functions=["CustomerTransferFunction"])
    assert len(writes) == tried
    assert [o["status"] for o in stack.outcomes()] == ["created"] * 6
    assert stack.messages(QUEUE) == [] and stack.messages("CustomerNinetyNineMindsDLQ") == []


def test_every_status_is_accepted_and_the_history_is_bounded(stack):
    table = ledger.Ledger(os.environ["LEDGER_TABLE"], history=3)
    statuses = [*typing.get_args(Status), "deferred"]  # a status added later needs no change here
    # model_construct: "deferred" is not (yet) an Outcome status; the ledger takes any status string
    calls = [
        table.write(
            Outcome.model_construct(status=s, entity="giftcard", record_id="77", destination="1001", reason=f"reason {n}")
        )
        for n, s in enumerate(statuses)
    ]
    item = table.items("giftcard", "77", "1001")[0]
    assert item["status"] == "deferred" and item["outcomes"] == len(statuses)
    assert len(item["history"]) <= 3 + ledger.HISTORY_SLACK
    assert [h["s"] for h in item["history"]][-3:] == statuses[-3:]
    assert 2 in calls and calls.count(2) < len(calls) / 2  # the cut is an occasional second write


def test_write_units_and_cost_per_million_transfers():
    created = Outcome(
        status="created",
        entity="customer",
        record_id="158056",
        destination="1001",
        external_id="cust_3b3c9f",
        tracking_guid="00000000-0000-4000-8000-000000000001",
    )
    assert ledger.write_units([created]) == 1
    cost = ledger.cost_per_million_transfers([created])
    assert cost == {"write_units_per_transfer": 1, "usd_per_million_transfers": 0.625, "price_per_million_write_units_usd": 0.625}
    failing = Outcome(
        status="failed",
        entity="customer",
        record_id="158056",
        destination="1001",
        failure_kind="transient",
        reason="99minds answered HTTP 503 " + "x" * 400,
        details={"attempt": 1, "error": "TransientError"},
    )
    # a record that keeps failing grows towards its bound: more units per write, then the cut keeps it there
    assert ledger.write_units([failing] * 4 + [created]) > 5
    long_run = ledger.write_units([failing] * 100)
    assert long_run < 100 * 8  # bounded: ~25 entries of ~300 bytes at most


@pytest.mark.parametrize(
    "reason, group",
    [
        ("iPaaS.com has no customer 509 (HTTP 404)", "iPaaS.com has no customer <id> (HTTP 404)"),
        ("transaction SO-2007: customer 505 has no link", "transaction <id>: customer <id> has no link"),
    ],
)
def test_report_groups_reasons_without_ids(reason, group):
    assert ledger_reports.reason_group({"reason": reason, "failure_kind": "permanent", "error": "X"}) == f"[permanent:X] {group}"


def test_the_template_table_is_what_the_ledger_uses(stack):
    table = boto3.client("dynamodb").describe_table(TableName=os.environ["LEDGER_TABLE"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=os.environ["LEDGER_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_sent_linked_and_mismatch_from_the_handlers(stack):
    from sandbox.pipeline import transaction
    from sandbox.stack import MAKINI_SYSTEM_ID

    # sent: an order of a customer that is linked and exists in 99minds (the 99minds order workflow)
    add_customer(stack, "701")
    existing = stack.ninetynine.new_id("customer")
    stack.ninetynine.customers[existing] = {"id": existing, "email": "ada701@example.com"}
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "701", existing)
    stack.ipaas.put("transactions", transaction("7001", "SO-7001", "701"))
    stack.send("TransactionNinetyNineMindsQueue", notification("7001", scope="transaction/created"))
    # linked: a customer Makini already has (found by code): only the iPaaS.com link is written
    add_customer(stack, "702")
    stack.makini.add_customer("C-702")
    stack.send("CustomerMakiniQueue", notification("702", destination=MAKINI_SYSTEM_ID))
    # mismatch: a linked card whose 99minds balance was off before the reload
    stack.ipaas.put(
        "giftcards",
        {
            "id": "703",
            "number": "GC-703",
            "type": "Gift Card",
            "status": "Active",
            "original_amount": "0.00",
            "balance": "50.00",
            "activities": [{"id": "703-r", "activity_type": "Reload", "amount": "50.00", "timestamp": "2025-03-01T10:00:00Z"}],
        },
    )
    card = stack.ninetynine.add_giftcard("GC-703", "10.00")
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "Gift Card", "703", card["id"])
    stack.send("GiftcardNinetyNineMindsQueue", notification("703", scope="giftcard/updated"))
    stack.drain(max_seconds=60)
    assert only(stack, "transaction", "7001")["status"] == "sent"
    assert items(stack, "customer", "702")[MAKINI_SYSTEM_ID]["status"] == "linked"
    mismatch = only(stack, "giftcard", "703")
    assert mismatch["status"] == "mismatch" and "differs from iPaaS.com 50.00" in mismatch["reason"]
