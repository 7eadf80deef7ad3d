"""`ipaas-sync initialize` and InitializeFunction against the iPaaS.com sandbox (paged searches) and moto."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace

import pytest

from ipaas_sync.tools.cli import main
from ipaas_sync.tools.initialize import cli as initialize_cli
from ipaas_sync.tools.initialize import function, sources
from ipaas_sync.tools.initialize.checkpoint import LockHeld, Runs
from ipaas_sync.tools.initialize.run import build
from ipaas_sync.tools.initialize.sources import transfer_time
from sandbox.destinations import PARTNER_LIMITS, TEST_LIMITS
from sandbox.ipaas import IpaasSandbox
from sandbox.stack import NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID
from tests.integration.conftest import add_customer

QUEUE = "CustomerNinetyNineMindsQueue"
TXN_QUEUE = "TransactionNinetyNineMindsQueue"
SEARCH = "/customers/v2/Customers"
# the estimates name the subscription's 99minds limit: the tests of them run at the partner's (the rest of the stack at
# the test limits)
AT_99MINDS_LIMIT = TEST_LIMITS.replace(ninetynine=PARTNER_LIMITS.ninetynine)


def customers(stack, n: int, start: int = 1000) -> list[str]:
    ids = [str(start + i) for i in range(n)]
    for id_ in ids:
        add_customer(stack, id_, updated_datetime=f"2025-0{1 + int(id_) % 3}-15T10:00:00Z")
    return ids


def queued(stack, queue: str = QUEUE) -> list[dict]:
    return [json.loads(m["Body"]) for m in stack.messages(queue, max_messages=400)]


def pages_read(stack, path: str = SEARCH) -> list[tuple[str, int]]:
    return [(r.query.get("page", ["-"])[0], r.status) for r in stack.ipaas.calls("GET", path)]


def run(stack, *args: str) -> int:
    return main(
        ["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--yes", "--page-size", "10", *args]
    )


def test_pages_an_empty_last_page_and_a_page_that_fails_once(make_stack, capsys):
    stack = make_stack(limits=AT_99MINDS_LIMIT)  # initialize makes no 99minds call: the partner's limit costs nothing
    ids = customers(stack, 30)
    stack.ipaas.fail_page("customers", 2, status=503)
    assert run(stack) == 0
    out = capsys.readouterr().out
    bodies = queued(stack)
    assert sorted(b["id"] for b in bodies) == ids  # every record once
    assert {b["scope"] for b in bodies} == {"customer/initialize"}
    assert {b["destination"] for b in bodies} == {NINETYNINE_SYSTEM_ID}
    assert len({b["tracking_guid"] for b in bodies}) == 30
    assert "found 30 record(s) in 3 page(s)" in out
    assert "at 150 calls per 60s (the subscription's API Throttle Limit) the transfer takes at least 12s" in out
    assert "30 record(s) enqueued onto ipaas-sync-local-customer-99minds" in out
    assert "transaction mapping filter" not in out  # customers are not filtered: no "0 skipped by" line
    assert "4 page(s) read in" in out
    # the estimate probes pages 1, 2 (503 once, retried), 3, 5 and 4; then the run reads 1 to 4 (4: empty, the last)
    assert pages_read(stack) == [
        ("1", 200),
        ("2", 503),
        ("2", 200),
        ("3", 200),
        ("5", 200),
        ("4", 200),
        ("1", 200),
        ("2", 200),
        ("3", 200),
        ("4", 200),
    ]
    state = Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID)
    assert state.status == "finished" and state.enqueued == 30 and state.pages == 4 and state.lock_expires_at == 0


def test_the_handlers_treat_initialize_like_created_and_a_second_run_is_harmless(stack, capsys):
    ids = customers(stack, 4)
    assert run(stack) == 0
    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])
    assert Counter(o["status"] for o in stack.outcomes()) == {"created": 4}
    assert run(stack) == 0  # a finished run may run again: no --restart needed
    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])
    assert Counter(o["status"] for o in stack.outcomes()) == {"created": 4, "duplicate": 4}
    assert len(stack.ninetynine.calls("POST", "/api/v1/ipaas/customers")) == len(ids)


def test_interrupted_after_a_page_and_resumed_without_enqueuing_twice(stack, capsys):
    ids = customers(stack, 35)

    def interrupt_after_two_pages(state, elapsed):
        if state.pages == 2:
            raise KeyboardInterrupt

    init = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 10}, progress=interrupt_after_two_pages)
    report = init.run(init.start())
    assert report.status == "interrupted" and report.enqueued == 20 and report.page == 3
    assert "`--resume` continues it" in report.lines()[-1]
    assert len(queued(stack)) == 20
    # without --resume a new run is refused: it names the stopped run and both ways on
    assert run(stack) == 1
    err = capsys.readouterr().err
    assert f"run {report.run_id} of initialize customer -> {NINETYNINE_SYSTEM_ID} stopped at page 3" in err
    assert "--resume continues it, --restart starts over" in err
    stack.ipaas.fail_page("customers", 3, status=502)  # the resumed run meets a failing page once
    before = len(pages_read(stack))
    assert run(stack, "--resume") == 0
    out = capsys.readouterr().out
    assert f"resuming run {report.run_id} at page 3 (20 enqueued so far)" in out
    assert "15 record(s) enqueued" in out and "by this run (35 in all by run" in out
    bodies = queued(stack)
    assert len(bodies) == 35 and sorted(b["id"] for b in bodies) == ids  # none twice
    assert pages_read(stack)[before:] == [("3", 502), ("3", 200), ("4", 200)]  # pages 1-2 not read again


def test_a_second_concurrent_run_is_refused_naming_the_holder(stack, capsys):
    customers(stack, 5)
    holder = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, owner="ops@laptop pid 4242")
    state = holder.start()
    reads = len(stack.ipaas.calls("GET", SEARCH))
    assert run(stack) == 1
    err = capsys.readouterr().err
    assert (
        f"initialize customer -> {NINETYNINE_SYSTEM_ID} is already running: run {state.run_id}, held by "
        "ops@laptop pid 4242" in err
    )
    assert queued(stack) == [] and len(stack.ipaas.calls("GET", SEARCH)) == reads  # refused before reading
    with pytest.raises(LockHeld):
        build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}).start(resume=True)
    # another destination is another run
    assert main(["initialize", "--entity", "customer", "--destination", STAMPED_SYSTEM_ID, "--yes"]) == 0
    assert len(queued(stack, "CustomerStampedQueue")) == 5
    holder.run(state)  # the holder finishes; its lock is released
    assert run(stack) == 0


def test_a_run_whose_lock_expired_can_be_taken_over(stack, monkeypatch):
    customers(stack, 5)
    monkeypatch.setenv("INITIALIZE_LOCK_SECONDS", "1")
    crashed = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, owner="crashed")
    crashed.start()  # never released: a crash
    Runs(os.environ["LEDGER_TABLE"]).table.update_item(  # its lock expired
        Key=Runs.key("customer", NINETYNINE_SYSTEM_ID),
        UpdateExpression="SET lock_expires_at = :t",
        ExpressionAttributeValues={":t": 1},
    )
    assert run(stack, "--resume") == 0
    assert len(queued(stack)) == 5


def test_dry_run_enqueues_nothing_and_takes_no_lock(stack, capsys):
    customers(stack, 12)
    stack.ipaas.put("customers", {"id": "", "first_name": "No", "last_name": "Id"})
    assert run(stack, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "12 record(s) would be enqueued" in out and "2 page(s) read" in out
    assert "1 without an id (logged, not enqueued)" in out
    assert queued(stack) == []
    assert Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID) is None


def test_transactions_are_filtered_before_enqueuing(stack, capsys):
    for id_, number, kw in [
        ("1", "SO-1", {}),
        ("2", "SO-2-D", {}),
        ("3", "SO-3", {"status": "Pending"}),
        ("4", "Q-4", {"type": "Quote"}),
        ("5", "RT-5", {"type": "Validated Return"}),
        ("6", "SO-6-GC", {}),
    ]:
        stack.ipaas.put(
            "transactions",
            {"id": id_, "transaction_number": number, "type": "Order", "status": "Complete", "customer_id": "501", **kw},
        )
    assert main(["initialize", "--entity", "transaction", "--destination", NINETYNINE_SYSTEM_ID, "--yes"]) == 0
    out = capsys.readouterr().out
    assert sorted(b["id"] for b in queued(stack, TXN_QUEUE)) == ["1", "5"]
    assert "2 record(s) enqueued" in out and "4 skipped by the transaction mapping filter (not enqueued)" in out
    assert "found 6 record(s)" in out and "and the transaction mapping filter" in out


def test_since_until_and_limit(stack, capsys):
    customers(stack, 12)  # months 1, 2, 3 by id % 3
    assert run(stack, "--since", "2025-02-01", "--until", "2025-03-01", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 record(s) would be enqueued" in out and "8 outside --since/--until (not enqueued)" in out
    assert run(stack, "--limit", "15") == 0
    assert run(stack, "--restart", "--limit", "5") == 0  # the finished run does not need --restart; allowed
    out = capsys.readouterr().out
    assert "5 record(s) enqueued" in out and "stopped at page 1 (offset 5)" in out
    assert run(stack, "--resume") == 0  # after a limit: the rest, from inside the page
    assert "7 record(s) enqueued onto" in (out := capsys.readouterr().out) and "by this run (12 in all by run" in out
    assert len(queued(stack)) == 12 + 12


def test_paging_parameters_are_settings(make_stack, monkeypatch, capsys):
    stack = make_stack(ipaas=IpaasSandbox(page_param="pageNumber", size_param="pageSize", first_page=0))
    customers(stack, 7)
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_PARAM", "pageNumber")
    monkeypatch.setenv("IPAAS_SEARCH_SIZE_PARAM", "pageSize")
    monkeypatch.setenv("IPAAS_SEARCH_FIRST_PAGE", "0")
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_SIZE", "3")
    assert main(["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--yes"]) == 0
    assert len(queued(stack)) == 7
    assert [r.query["pageNumber"][0] for r in stack.ipaas.calls("GET", SEARCH)][-3:] == ["0", "1", "2"]


def test_an_unknown_destination_or_entity_route_is_a_clear_error(stack, capsys):
    assert main(["initialize", "--entity", "giftcard", "--destination", STAMPED_SYSTEM_ID, "--yes"]) == 1
    assert "no queue for giftcard notifications to platform 'stamped' (destination '2001')" in capsys.readouterr().err
    assert main(["initialize", "--entity", "customer", "--destination", "9999", "--yes"]) == 1
    assert "no subscription is configured for destination '9999'" in capsys.readouterr().err


def test_the_transfer_time_of_100000_customers_at_99minds(make_stack):
    make_stack(limits=AT_99MINDS_LIMIT)
    sub = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}).target.subscription
    assert "takes at least 11h06m40s" in transfer_time(100_000, sub)


# -- the function form ---------------------------------------------------------------------------------------
class ShortContext:
    """A Lambda context whose remaining time drops below the margin after `pages` checks: a simulated timeout."""

    def __init__(self, n: int, pages: int):
        self.aws_request_id = f"request-{n}"
        self.function_name = "InitializeFunction"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ipaas-sync-local-initialize"
        self.memory_limit_in_mb, self.function_version = 512, "$LATEST"
        self.log_group_name = self.log_stream_name = "local"
        self._checks, self._pages = 0, pages

    def get_remaining_time_in_millis(self) -> int:
        self._checks += 1
        # deadline.invocation reads it once first; then one should_pause check per page
        return 900_000 if self._checks <= self._pages else 30_000


def test_the_function_continues_itself_across_a_simulated_timeout(stack, monkeypatch):
    ids = customers(stack, 45)
    monkeypatch.delenv("QUEUE_ROUTES")  # the function's own environment: queues by the stack's name
    handler = stack.handlers["InitializeFunction"]
    invoked: list[tuple[str, dict]] = []
    monkeypatch.setattr(function, "invoke_async", lambda arn, payload: invoked.append((arn, payload)))
    event = {"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 10}
    results = [handler(event, ShortContext(0, pages=2))]
    for n in range(1, 10):  # bounded: 5 pages, 2 per invocation
        if "continued" not in results[-1]:
            break
        arn, payload = invoked[-1]
        assert arn.endswith(":function:ipaas-sync-local-initialize")
        results.append(handler(payload, ShortContext(n, pages=2)))
    assert [r["status"] for r in results] == ["paused", "paused", "finished"]
    assert [p["continue"]["sequence"] for _, p in invoked] == [1, 2]
    bodies = queued(stack)
    assert len(bodies) == 45 and sorted(b["id"] for b in bodies) == ids
    # a repeated delivery of an old continuation enqueues nothing
    again = handler(invoked[0][1], ShortContext(9, pages=2))
    assert again["status"] == "superseded" and len(queued(stack)) == 45
    state = Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID)
    assert state.status == "finished" and state.enqueued == 45 and state.owner == "InitializeFunction request request-2"


def test_the_function_refuses_a_second_run_and_does_a_dry_run(stack, monkeypatch):
    customers(stack, 3)
    handler = stack.handlers["InitializeFunction"]
    monkeypatch.setattr(function, "invoke_async", lambda arn, payload: pytest.fail("no continuation expected"))
    dry = handler({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "dry_run": True}, ShortContext(0, 9))
    assert dry["status"] == "dry-run" and dry["enqueued"] == 3 and queued(stack) == []
    build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, owner="someone").start()
    refused = handler({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, ShortContext(1, 9))
    assert refused["status"] == "refused" and "held by someone" in refused["error"]


def test_a_page_that_keeps_failing_stops_the_run_resumably(stack, capsys, monkeypatch):
    ids = customers(stack, 25)
    stack.ipaas.fail_page("customers", 2, status=503, times=4)  # more than the adapter's retries
    assert run(stack, "--dry-run") == 1  # the estimate meets it first: nothing enqueued
    assert "HTTP 503" in capsys.readouterr().err and queued(stack) == []
    stack.ipaas.fail_page("customers", 2, status=503, times=4)
    monkeypatch.setattr(initialize_cli, "estimate", lambda enumerator: sources.Estimate(25, 3, True))  # no probes
    assert run(stack) == 1  # the run meets it
    assert (
        "stopped at page 2 (10 enqueued, status failed): the same command with --resume continues it" in capsys.readouterr().err
    )
    state = Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID)
    assert (state.status, state.page, state.enqueued, state.lock_expires_at) == ("failed", 2, 10, 0)
    assert run(stack, "--resume") == 0
    assert sorted(b["id"] for b in queued(stack)) == ids


def _consume(stack, queue: str = QUEUE) -> list[str]:
    """What the transfer function would do to the queue: receive and delete everything visible (the record ids)."""
    import boto3

    sqs, url, ids = boto3.client("sqs"), stack.queue_url(queue), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return ids
        for m in got:
            ids.append(json.loads(m["Body"])["id"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_a_run_keeps_the_queue_no_fuller_than_the_limit_drains_in_its_pacing_window(stack, monkeypatch):
    """SQS delays a deferred record at most 15 minutes: a run waits before a page while the queue already holds what
    the destination's limit drains in --pace-ahead seconds, so no record is enqueued further ahead than that."""
    from ipaas_sync.platform.queues import queue_depth
    from ipaas_sync.tools.enqueue import Target

    ids = customers(stack, 35)
    # the test stack's 99minds subscription allows 150 calls a second (sandbox.server.TEST_LIMITS): 0.2 s is 30 customers
    init = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 10, "pace_ahead": 0.2})
    assert init.pace is not None and init.pace.room == 30
    depths: list[int] = []  # the queue's depth once each page is sent
    send = Target.send

    def counted_send(self, bodies):
        sent = send(self, bodies)
        depths.append(queue_depth(self.sqs, self.queue_url))
        return sent

    monkeypatch.setattr(Target, "send", counted_send)
    consumed: list[str] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # while the run waits, the function transfers what the queue holds
        waits.append(seconds)
        consumed.extend(_consume(stack))

    init.pace.sleep = sleep
    report = init.run(init.start())
    assert report.status == "finished" and report.enqueued == 35
    assert depths == [10, 20, 30, 5]  # the fourth page waited until the queue had room for it
    assert waits == [sources.PACE_POLL_SECONDS]
    assert sorted(consumed + [b["id"] for b in queued(stack)]) == ids  # each enqueued once


def test_the_function_hands_on_a_run_that_waits_for_room_at_its_margin(stack, monkeypatch):
    customers(stack, 25)
    monkeypatch.delenv("QUEUE_ROUTES")
    monkeypatch.setattr(function, "invoke_async", lambda arn, payload: invoked.append(payload))
    invoked: list[dict] = []
    event = {"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 10, "pace_ahead": 0.1}
    # the first page fills the queue's room (15 customers: 0.1 s of 150 calls a second); the function waits for room
    # until its margin (reached at once here), then hands the run on as at a timeout, the page not read yet
    result = stack.handlers["InitializeFunction"](event, ShortContext(0, pages=2))
    assert result["status"] == "paused" and result["enqueued"] == 10 and result["continued"] == 1
    assert invoked[0]["pace_ahead"] == event["pace_ahead"]
    assert len(queued(stack)) == 10 and [p for p, _ in pages_read(stack)] == ["1"]
    _consume(stack)  # the transfer function drained the queue: the continuation goes on
    result = stack.handlers["InitializeFunction"](invoked[0], ShortContext(1, pages=2))
    assert result["status"] == "paused" and result["enqueued"] == 20 and [p for p, _ in pages_read(stack)] == ["1", "2"]


def test_pacing_room_is_the_limits_records_in_the_window(make_stack):
    make_stack(limits=AT_99MINDS_LIMIT)
    init = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID})
    assert init.pace is not None and init.pace.room == 1500  # 150 per 60 s for 600 s, one request a customer
    txn = build({"entity": "transaction", "destination": NINETYNINE_SYSTEM_ID})
    assert txn.pace is not None and txn.pace.room == 750  # two requests an order
    assert build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "pace_ahead": 0}).pace is None
    with pytest.raises(ValueError, match="--pace-ahead"):
        build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "pace_ahead": -1})


def test_a_queue_whose_depth_cannot_be_read_stops_the_run_resumably(stack):
    from ipaas_sync.core.errors import TransientError

    customers(stack, 3)
    init = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": 10})
    assert init.pace is not None
    init.pace.target = replace(init.target, queue_url=init.target.queue_url + "-gone")
    with pytest.raises(TransientError, match="could not read the depth of queue .*-gone"):
        init.run(init.start())
    state = Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID)
    assert state.status == "failed" and state.enqueued == 0 and queued(stack) == []


# -- resume at the exact next record, whatever page size either run uses (issue 23, defect 4) ------------------
def _init(stack, *args: str) -> int:
    return main(["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--yes", *args])


def _stop_by_ctrl_c_after(pages: int, size: int) -> None:
    def interrupt(state, elapsed):
        if state.pages == pages:
            raise KeyboardInterrupt

    init = build({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "page_size": size}, progress=interrupt)
    assert init.run(init.start()).status == "interrupted"


@pytest.mark.parametrize(
    "stop,resume_size",
    [
        # the two cases: --page-size 2 --limit 2 (a page end), resumed at the default size; Ctrl-C at size 1
        (["--page-size", "2", "--limit", "2"], None),
        ("ctrl-c:2:1", None),
        (["--page-size", "2", "--limit", "3"], None),  # --limit inside a page, resumed at a larger size
        (["--page-size", "4", "--limit", "5"], "3"),  # inside a page, resumed at a smaller size
        (["--page-size", "3", "--limit", "3"], "2"),  # a page end, resumed at a smaller size
        (["--page-size", "2", "--limit", "4"], "4"),  # a page end that is no page end in the new size
        ("ctrl-c:1:4", "3"),  # Ctrl-C after a page, resumed at a smaller size
        ("ctrl-c:2:2", "5"),
    ],
    ids=[
        "limit-page-end-default",
        "ctrl-c-size-1",
        "limit-mid-page-larger",
        "limit-mid-page-smaller",
        "limit-page-end-smaller",
        "limit-page-end-larger",
        "ctrl-c-smaller",
        "ctrl-c-larger",
    ],
)
def test_a_resume_continues_at_the_exact_next_record_whatever_its_page_size(stack, capsys, stop, resume_size):
    ids = customers(stack, 7)
    if isinstance(stop, str):
        _, pages, size = stop.split(":")
        _stop_by_ctrl_c_after(int(pages), int(size))
    else:
        assert _init(stack, *stop) == 0
    first = len(queued(stack))
    capsys.readouterr()
    assert _init(stack, "--resume", *(["--page-size", resume_size] if resume_size else [])) == 0
    out = capsys.readouterr().out
    bodies = queued(stack)
    assert sorted(b["id"] for b in bodies) == ids  # every record once: none skipped, none twice
    # the report counts what this run added and the run's total apart
    assert f"{7 - first} record(s) enqueued onto" in out and "by this run (7 in all by run" in out
    state = Runs(os.environ["LEDGER_TABLE"]).get("customer", NINETYNINE_SYSTEM_ID)
    assert state.status == "finished" and state.enqueued == 7


def test_the_function_resumes_exactly_when_its_page_size_changed_between_handoffs(stack, monkeypatch):
    """A redeploy between two invocations of a run (IPAAS_SEARCH_PAGE_SIZE 2 -> 5): the continuation reads on
    from the exact next record in its own page size."""
    ids = customers(stack, 11)
    monkeypatch.delenv("QUEUE_ROUTES")
    handler = stack.handlers["InitializeFunction"]
    invoked: list[tuple[str, dict]] = []
    monkeypatch.setattr(function, "invoke_async", lambda arn, payload: invoked.append((arn, payload)))
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_SIZE", "2")
    first = handler({"entity": "customer", "destination": NINETYNINE_SYSTEM_ID}, ShortContext(0, pages=2))
    assert first["status"] == "paused" and first["enqueued"] == 4 and first["page"] == 3
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_SIZE", "5")
    second = handler(invoked[-1][1], ShortContext(1, pages=10))
    assert second["status"] == "finished" and second["added"] == 7 and second["enqueued"] == 11
    assert sorted(b["id"] for b in queued(stack)) == ids


def test_a_resume_that_cannot_be_realigned_is_refused_naming_the_page_size(stack, capsys, monkeypatch):
    """A run that paged 3 at a time, resumed where the source decides its own page size (no size parameter
    sent): its position cannot be re-expressed, so the resume is refused, naming the size, and nothing is lost."""
    ids = customers(stack, 7)
    assert _init(stack, "--page-size", "3", "--limit", "4") == 0
    monkeypatch.setenv("IPAAS_SEARCH_SIZE_PARAM", "none")
    capsys.readouterr()
    assert _init(stack, "--resume") == 1
    err = capsys.readouterr().err
    assert "stopped at page 2 (offset 1) reading 3 records per page" in err and "--page-size 3" in err
    assert len(queued(stack)) == 4  # nothing enqueued by the refused resume
    monkeypatch.delenv("IPAAS_SEARCH_SIZE_PARAM")
    assert _init(stack, "--resume", "--page-size", "3") == 0
    assert sorted(b["id"] for b in queued(stack)) == ids
