"""`ipaas-sync initialize --source 99minds` (99minds customers into iPaaS.com) and `sync --source 99minds`, against
the 99minds sandbox's customer list (page_no), moto, and the real LoyaltyTransferFunction writing into the iPaaS.com
sandbox."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from ipaas_sync.tools.cli import main
from ipaas_sync.tools.initialize import function
from ipaas_sync.tools.initialize.checkpoint import Runs
from ipaas_sync.tools.initialize.run import build
from sandbox.stack import NINETYNINE_SYSTEM_ID

from .test_initialize import AT_99MINDS_LIMIT, ShortContext

Q = "FromNinetyNineMindsQueue"
LIST = "/api/v1/ipaas/customers"
STORE = "store_b81a893dc2bc6e1a5d"


def customers_in_99minds(stack, n: int) -> list[str]:
    """n customers made in 99minds (each with its loyalty card), dated by month: customer k in 2025-0(1 + k % 3)."""
    ids = []
    for k in range(n):
        customer_id = f"customer_{k:04d}"
        stack.ninetynine.customers[customer_id] = {
            "id": customer_id,
            "email": f"grace{k}@example.com",
            "first_name": "Grace",
            "last_name": f"Hopper{k}",
            "store_ref_id": STORE,
            "created_at": "2024-12-01T09:00:00Z",
            "updated_at": f"2025-0{1 + k % 3}-15T10:00:00Z",
        }
        stack.ninetynine.card_of(customer_id)["balance"] = str(10 * k)
        ids.append(customer_id)
    return ids


def queued(stack) -> list[dict]:
    return [json.loads(m["Body"]) for m in stack.messages(Q, max_messages=400)]


def pages_read(stack) -> list[tuple[str, str, int]]:
    return [
        (r.query.get("page_no", ["-"])[0], r.query.get("page_size", ["-"])[0], r.status)
        for r in stack.ninetynine.calls("GET", LIST)
        if r.path == LIST
    ]


def run(*args: str) -> int:
    return main(
        [
            "initialize",
            "--source",
            "99minds",
            "--entity",
            "customer",
            "--destination",
            NINETYNINE_SYSTEM_ID,
            "--yes",
            "--page-size",
            "3",
            *args,
        ]
    )


def run_state():
    return Runs(os.environ["LEDGER_TABLE"]).get("99minds:customer", NINETYNINE_SYSTEM_ID)


def drain(stack) -> None:
    stack.drain(max_seconds=60, functions=["LoyaltyTransferFunction"])


def test_pages_to_an_empty_last_page_under_the_99minds_limiter_and_enqueues_what_a_webhook_would(make_stack, capsys):
    import boto3

    stack = make_stack(limits=AT_99MINDS_LIMIT)  # the reads are paced by the limit the estimate names
    ids = customers_in_99minds(stack, 7)
    stack.ninetynine.faults.fail(1, status=503, path=LIST, method="GET")  # the first page read fails once
    assert run() == 0
    out = capsys.readouterr().out
    assert f"initialize 99minds customers -> iPaaS.com, subscription {NINETYNINE_SYSTEM_ID}" in out
    assert "from the 99minds customer list" in out
    assert "found 7 record(s) in 3 page(s)" in out
    assert "at 150 calls per 60s to 99minds (2 per customer)" in out
    assert "7 record(s) enqueued onto ipaas-sync-local-from-99minds" in out
    assert "4 page(s) read in" in out
    bodies = queued(stack)
    assert sorted(b["id"] for b in bodies) == ids  # each once
    assert {(b["source"], b["kind"], b["event"], b["destination"]) for b in bodies} == {
        ("99minds", "customer", "initialize", NINETYNINE_SYSTEM_ID)
    }
    assert len({b["tracking_guid"] for b in bodies}) == 7
    # estimate: 1 (503, retried), 2, 3, 5 (empty), 4 (empty); the run: 1, 2, 3 (one record), 4 (empty: the end)
    assert pages_read(stack) == [
        ("1", "3", 503),
        ("1", "3", 200),
        ("2", "3", 200),
        ("3", "3", 200),
        ("5", "3", 200),
        ("4", "3", 200),
        ("1", "3", 200),
        ("2", "3", 200),
        ("3", "3", 200),
        ("4", "3", 200),
    ]
    state = run_state()
    assert (state.status, state.enqueued, state.pages, state.lock_expires_at) == ("finished", 7, 4, 0)
    # the reads took the shared 99minds limiter (the same bucket as every 99minds call)
    items = boto3.client("dynamodb").scan(TableName=stack.deployment.physical["ThrottleTable"]["Ref"])["Items"]
    assert any(i["pk"]["S"].startswith("99minds:") for i in items)


def test_the_real_handler_creates_them_in_ipaas_and_a_rerun_ends_as_duplicate(stack, capsys):
    ids = customers_in_99minds(stack, 5)
    assert run() == 0
    drain(stack)
    loyalty = [o for o in stack.outcomes() if o["entity"] == "loyalty"]
    assert Counter(o["status"] for o in loyalty) == {"created": 5}
    assert {o["details"]["event"] for o in loyalty} == {"initialize"}
    created = stack.ipaas.writes_to("customers")
    assert sorted(stack.ipaas.link(NINETYNINE_SYSTEM_ID, "customer", w["id"]) for w in created) == ids
    assert run() == 0  # a finished run may run again
    drain(stack)
    assert Counter(o["status"] for o in stack.outcomes() if o["entity"] == "loyalty") == {"created": 5, "duplicate": 5}
    assert len(stack.ipaas.writes_to("customers")) == 5


def test_interrupted_after_a_page_and_resumed_without_enqueuing_twice(stack, capsys):
    ids = customers_in_99minds(stack, 8)

    def interrupt_after_two_pages(state, elapsed):
        if state.pages == 2:
            raise KeyboardInterrupt

    init = build(
        {"source": "99minds", "entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 3},
        progress=interrupt_after_two_pages,
    )
    report = init.run(init.start())
    assert (report.status, report.enqueued, report.page) == ("interrupted", 6, 3)
    assert run() == 1  # a new run is refused while the stopped one exists
    assert (
        f"run {report.run_id} of initialize 99minds:customer -> {NINETYNINE_SYSTEM_ID} stopped at page 3"
        in capsys.readouterr().err
    )
    before = len(pages_read(stack))
    assert run("--resume") == 0
    assert f"resuming run {report.run_id} at page 3 (6 enqueued so far)" in capsys.readouterr().out
    bodies = queued(stack)
    assert len(bodies) == 8 and sorted(b["id"] for b in bodies) == ids  # none twice
    assert [p for p, _, _ in pages_read(stack)[before:]] == ["3", "4"]  # pages 1-2 not read again


def test_its_run_is_not_the_from_ipaas_customer_run_of_the_same_subscription(stack):
    customers_in_99minds(stack, 2)
    other = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, owner="ops@laptop pid 1")
    other.start()  # iPaaS.com customers -> 99minds, running
    assert run() == 0
    assert run_state().status == "finished"
    assert Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID).owner == "ops@laptop pid 1"


def test_dry_run_enqueues_nothing_and_takes_no_lock(stack, capsys):
    customers_in_99minds(stack, 4)
    assert run("--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 record(s) would be enqueued" in out
    assert queued(stack) == [] and run_state() is None


def test_since_until_and_limit_on_the_customers_dates(stack, capsys):
    customers_in_99minds(stack, 9)  # updated_at: k % 3 == 0 January, 1 February, 2 March
    assert run("--since", "2025-02-01", "--until", "2025-03-01") == 0
    out = capsys.readouterr().out
    assert "found at most 9 record(s)" in out and "6 outside --since/--until (not enqueued)" in out
    assert sorted(b["id"] for b in queued(stack)) == ["customer_0001", "customer_0004", "customer_0007"]
    assert run("--restart", "--limit", "2") == 0
    assert "stopped at page 1 (offset 2)" in capsys.readouterr().out


def test_the_page_size_and_the_end_of_the_list_are_settings(stack, monkeypatch, capsys):
    ids = customers_in_99minds(stack, 7)
    # 99minds answers pages of 2 whatever is asked (its size parameter has another name): the default end, the
    # first empty page, still finds every customer, where "a short page is the last" would stop after page 1
    stack.ninetynine.list_size_param, stack.ninetynine.list_default_size = "per_page", 2
    assert run("--dry-run") == 0
    assert "7 record(s) would be enqueued" in capsys.readouterr().out
    # the parameter named as 99minds names it, and a short page as the end: one read less
    monkeypatch.setenv("NINETYNINE_MINDS_LIST_SIZE_PARAM", "per_page")
    monkeypatch.setenv("NINETYNINE_MINDS_LIST_END", "short")
    before = len(stack.ninetynine.calls("GET", LIST))
    assert run("--dry-run") == 0
    assert "7 record(s) would be enqueued" in capsys.readouterr().out
    assert [r.query.get("page_no")[0] for r in stack.ninetynine.calls("GET", LIST)[before:]][-3:] == ["1", "2", "3"]
    # page_no under another name is ignored by 99minds: the same page again ends the list (no endless loop)
    monkeypatch.setenv("NINETYNINE_MINDS_LIST_PAGE_PARAM", "page")
    monkeypatch.delenv("NINETYNINE_MINDS_LIST_END")
    assert run() == 0
    assert sorted(b["id"] for b in queued(stack)) == ids[:3]
    monkeypatch.setenv("NINETYNINE_MINDS_LIST_END", "sometimes")
    assert run("--dry-run") == 1
    assert "NINETYNINE_MINDS_LIST_END must be 'short' or 'empty'" in capsys.readouterr().err


def test_loyalty_transactions_and_non_99minds_destinations_are_refused(stack, capsys):
    assert (
        main(["initialize", "--source", "99minds", "--entity", "transaction", "--destination", NINETYNINE_SYSTEM_ID, "--yes"])
        == 1
    )
    assert "loyalty card transactions have no published list" in capsys.readouterr().err
    assert main(["initialize", "--source", "99minds", "--entity", "customer", "--destination", "2001", "--yes"]) == 1
    assert "not a 99minds one" in capsys.readouterr().err
    assert queued(stack) == []


def test_the_function_continues_itself_with_the_source(stack, monkeypatch):
    ids = customers_in_99minds(stack, 10)
    handler = stack.handlers["InitializeFunction"]
    invoked: list[tuple[str, dict]] = []
    monkeypatch.setattr(function, "invoke_async", lambda arn, payload: invoked.append((arn, payload)))
    event = {"source": "99minds", "entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 3}
    results = [handler(event, ShortContext(0, pages=2))]
    for n in range(1, 10):  # bounded: 5 pages (the last empty), 2 per invocation
        if "continued" not in results[-1]:
            break
        results.append(handler(invoked[-1][1], ShortContext(n, pages=2)))
    assert [r["status"] for r in results] == ["paused", "paused", "finished"]
    assert {p["source"] for _, p in invoked} == {"99minds"}
    assert sorted(b["id"] for b in queued(stack)) == ids
    assert run_state().owner == "InitializeFunction request request-2"


# -- manual sync ------------------------------------------------------------------------------------------------
def test_manual_sync_with_an_ids_file_transfers_them(stack, tmp_path, capsys):
    ids = customers_in_99minds(stack, 3)
    txn = stack.ninetynine.adjust_points(ids[0], 12)
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "42", ids[0])
    from tests.integration.conftest import add_customer

    add_customer(stack, "42")
    listed = tmp_path / "ids.txt"
    listed.write_text(f"# asked about\n{ids[1]}\n{ids[2]}, {ids[1]}\n", encoding="utf-8")
    assert main(["sync", "--source", "99minds", "--ids-file", str(listed), "--id", txn["id"], "--stack", "ipaas-sync-local"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        f"enqueued 3 99minds record(s) (2 customer(s), 1 loyalty transaction(s)) for iPaaS.com, "
        f"subscription {NINETYNINE_SYSTEM_ID} ('99minds - Local'), onto "
        f"ipaas-sync-local-from-99minds: {txn['id']}, {ids[1]}, {ids[2]}"
    )
    assert {(b["kind"], b["event"]) for b in queued(stack)} == {
        ("customer", "manual_sync"),
        ("loyalty_transaction", "manual_sync"),
    }
    drain(stack)
    loyalty = [o for o in stack.outcomes() if o["entity"] == "loyalty"]
    assert Counter((o["details"]["target"], o["status"]) for o in loyalty) == {
        ("customer", "created"): 2,
        ("ticket", "created"): 1,
    }


def test_manual_sync_refuses_an_id_of_unknown_kind_and_a_non_99minds_destination(stack, capsys):
    assert main(["sync", "--source", "99minds", "--id", "customer_1", "--id", "tier_0190", "--stack", "ipaas-sync-local"]) == 1
    assert "cannot tell the kind of 'tier_0190'" in capsys.readouterr().err
    assert (
        main(["sync", "--source", "99minds", "--id", "customer_1", "--destination", "2001", "--stack", "ipaas-sync-local"]) == 1
    )
    assert "not a 99minds one" in capsys.readouterr().err
    assert main(["sync", "--source", "99minds", "--entity", "giftcard", "--id", "x", "--stack", "ipaas-sync-local"]) == 1
    assert "not 'giftcard'" in capsys.readouterr().err
    assert queued(stack) == []


@pytest.mark.parametrize("args", [["--entity", "customer"], ["--destination", NINETYNINE_SYSTEM_ID]])
def test_manual_sync_from_ipaas_still_needs_entity_and_destination(stack, capsys, args):
    assert main(["sync", *args, "--id", "158056"]) == 1
    assert "name the records' --entity and the --destination" in capsys.readouterr().err


def test_the_sample_event_counts_the_99minds_customers(stack):
    from pathlib import Path

    customers_in_99minds(stack, 4)
    event = json.loads((Path(__file__).resolve().parents[2] / "events" / "initialize_99minds_customers.json").read_text())
    result = stack.handlers["InitializeFunction"](event, ShortContext(0, pages=9))
    assert (result["status"], result["enqueued"]) == ("dry-run", 4) and queued(stack) == []
