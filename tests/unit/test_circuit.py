"""The circuit per destination (runtime/circuit.py): its state machine as pure functions, and its DynamoDB item
(the rate limiter's item) on moto: every container sees the same circuit, one probe per interval."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ipaas_sync.platform.circuit import (
    CircuitConfig,
    CircuitTable,
    CircuitView,
    describe,
    gate,
    on_failure,
    on_success,
    try_probe,
)
from tests.conftest import at_once, create_throttle_table, served_dynamodb

T0 = 1_800_000_000.0
KEY = "99minds:api.99minds.test"
CONFIG = CircuitConfig(threshold=3, probe_interval=60)


def _create(client) -> None:
    # the limiter's item as a booking leaves it (the circuit rides on it)
    create_throttle_table(client, {"pk": {"S": KEY}, "tat": {"N": str(T0)}, "expires_at": {"N": "1"}})


@pytest.fixture
def table():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create(client)
        yield CircuitTable("throttle", client=client)


class Container:
    """One container's view of the circuit: the item as its own last write returned it (as the limiter keeps it)."""

    def __init__(self, table: CircuitTable):
        self.table, self.item, self.writes = table, {}, 0

    def write(self, update):
        self.writes += 1
        ok, item = self.table.write(KEY, update)
        self.item = dict(item)
        return ok, item

    @property
    def view(self) -> CircuitView:
        return CircuitView.from_item(self.item)


# -- the state machine, pure ------------------------------------------------------------------------------------------
def test_states():
    assert CircuitView().state(T0) == "closed"
    view = CircuitView(open_until=T0 + 10, opened_at=T0 - 50)
    assert view.state(T0) == "open" and view.state(T0 + 10) == "half-open"
    assert gate(CircuitView(), T0, CONFIG).verdict == "run"
    assert gate(view, T0, CONFIG).verdict == "wait" and gate(view, T0, CONFIG).until == T0 + 10
    probe = gate(view, T0 + 11, CONFIG)
    assert probe.verdict == "probe" and probe.update is not None and probe.update.values[":c_seen"] == T0 + 10


def test_a_healthy_destination_costs_no_write():
    assert on_success(CircuitView(), T0) is None


def test_no_failure_write_while_open():
    calls = []
    view, opened = on_failure(CircuitView(open_until=T0 + 5, fails=3), T0, CONFIG, lambda u: calls.append(u) or (True, {}))
    assert not opened and calls == []


# -- on the DynamoDB item --------------------------------------------------------------------------------------------
def test_failures_in_a_row_open_it_for_every_container(table):
    a, b = Container(table), Container(table)
    assert on_failure(a.view, T0, CONFIG, a.write)[1] is False
    assert on_failure(b.view, T0 + 1, CONFIG, b.write)[1] is False
    # a saw one failure (its own); the shared count is 2: its guess (count) is followed by no opening yet
    view, opened = on_failure(a.view, T0 + 2, CONFIG, a.write)
    assert opened and view.state(T0 + 2) == "open" and view.fails == 3
    assert view.open_until == T0 + 2 + 60 and view.opened_at == T0 + 2
    assert table.view(KEY).state(T0 + 3) == "open"
    # the limiter's own attributes are left as they were
    raw = table._ddb.get_item(TableName="throttle", Key={"pk": {"S": KEY}})["Item"]
    assert raw["tat"]["N"] == str(T0)
    # b's next failure (its view stale: closed, 1 failure) finds it open: counted nowhere, no opening twice
    view, opened = on_failure(b.view, T0 + 4, CONFIG, b.write)
    assert not opened and view.opened_at == T0 + 2


def test_a_success_resets_the_count(table):
    a = Container(table)
    on_failure(a.view, T0, CONFIG, a.write)
    on_failure(a.view, T0, CONFIG, a.write)
    update = on_success(a.view, T0 + 1)
    assert update is not None
    a.write(update)
    assert a.view.fails == 0 and a.view.state(T0 + 1) == "closed"
    assert on_success(a.view, T0 + 2) is None  # nothing more to write
    on_failure(a.view, T0 + 3, CONFIG, a.write)
    on_failure(a.view, T0 + 3, CONFIG, a.write)
    assert table.view(KEY).state(T0 + 3) == "closed"  # two in a row again, not three


def test_one_probe_per_interval_then_the_first_success_closes_and_releases(table):
    a, b = Container(table), Container(table)
    for n in range(3):
        on_failure(a.view, T0 + n, CONFIG, a.write)
    b.item = table._ddb.get_item(TableName="throttle", Key={"pk": {"S": KEY}})["Item"]
    opened_until = a.view.open_until
    half_open = opened_until + 1
    assert gate(a.view, half_open, CONFIG).verdict == "probe"
    took_a, _ = try_probe(a.view, half_open, CONFIG, a.write)
    took_b, view_b = try_probe(b.view, half_open, CONFIG, b.write)  # same stale view: loses
    assert (took_a, took_b) == (True, False)
    assert view_b.open_until == half_open + 60 and view_b.probes == 1
    assert gate(view_b, half_open + 1, CONFIG).verdict == "wait"  # b's records wait for the next probe
    # the probe failed: no write; the next interval's probe
    assert on_failure(a.view, half_open + 2, CONFIG, a.write) == (a.view, False)
    took, _ = try_probe(a.view, half_open + 61, CONFIG, a.write)
    assert took and a.view.probes == 2
    # the probe succeeded: closed, the waiting records released from now
    update = on_success(a.view, half_open + 62)
    assert update is not None
    a.write(update)
    view = table.view(KEY)
    assert view.state(half_open + 62) == "closed" and view.released_at == half_open + 62 and view.fails == 0


def test_concurrent_containers_take_exactly_one_probe():
    """Eight containers at the same half-open moment (moto in server mode applies one item's writes one at a time, as
    DynamoDB does): one probe."""
    from sandbox.local_aws import MotoServer

    server = MotoServer().start()
    try:
        client = served_dynamodb(server.url)
        _create(client)
        table = CircuitTable("throttle", client=client)
        opener = Container(table)
        for _ in range(3):
            on_failure(opener.view, T0, CONFIG, opener.write)
        seen = opener.view
        results = at_once(lambda: try_probe(seen, seen.open_until + 1, CONFIG, Container(table).write)[0])
        assert sorted(results) == [False] * 7 + [True]
        assert table.view(KEY).probes == 1
    finally:
        server.stop()


def test_close_by_hand_and_status(table):
    a = Container(table)
    for _ in range(3):
        on_failure(a.view, T0, CONFIG, a.write)
    line = describe(KEY, table.view(KEY), T0 + 1)
    assert line.startswith(f"{KEY}: open since ") and "waiting for 99minds to recover, next probe at " in line
    view = table.close(KEY, now=T0 + 5)
    assert view is not None and view.state(T0 + 5) == "closed" and view.released_at == T0 + 5
    assert describe(KEY, view, T0 + 6) == f"{KEY}: closed"
    assert table.close("99minds:no-such-host", now=T0) is None  # creates nothing
    assert set(table.all()) == {KEY}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CIRCUIT_FAILURE_THRESHOLD": "0"}, "CIRCUIT_FAILURE_THRESHOLD must be a whole number >= 1"),
        ({"CIRCUIT_PROBE_SECONDS": "-3"}, "CIRCUIT_PROBE_SECONDS must be a positive number"),
    ],
)
def test_config_from_env_names_the_bad_variable(env, message):
    with pytest.raises(ValueError, match=message):
        CircuitConfig.from_env(env)


def test_threshold_of_one_opens_on_the_first_failure(table):
    a = Container(table)
    view, opened = on_failure(a.view, T0, CircuitConfig(threshold=1, probe_interval=5), a.write)
    assert opened and view.state(T0) == "open" and a.writes == 1


# -- one container's circuit on the limiter item ---------------------------------------------------------------------
class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def shared(table: CircuitTable, clock: Clock, opened: list[str] | None = None):
    """A SharedCircuit as the limiter builds it: its writes keep the item as last seen."""
    from ipaas_sync.platform.circuit import SharedCircuit

    box = Container(table)
    reads = []

    def read():  # as the limiter's _read_item: the item read is the item as last seen
        reads.append(clock())
        box.item = table._ddb.get_item(TableName="throttle", Key={"pk": {"S": KEY}})["Item"]
        return box.item

    circuit = SharedCircuit(
        KEY,
        write=box.write,
        item=lambda: box.item,
        read=read,
        config=CONFIG,
        clock=clock,
        on_open=(opened.append if opened is not None else None),
    )
    return circuit, box, reads


def test_an_outage_costs_threshold_writes_then_one_per_probe(table):
    clock, opened = Clock(), []
    a, box_a, _ = shared(table, clock, opened)
    b, box_b, _ = shared(table, clock)
    for _ in range(10):  # a healthy destination: no write at all
        a.succeeded()
    assert box_a.writes == 0
    for _ in range(3):
        a.failed()
    assert opened == [KEY] and box_a.writes == 3  # two counts, then the third failure opens it: one write each
    assert a.admit().verdict == "wait"
    for _ in range(20):  # records admitted before it opened, failing late: one write, then it is known open
        b.failed()
    assert box_b.writes == 1 and a.opened_here == 1 and b.opened_here == 0
    clock.t += 61
    assert [a.admit().verdict, b.admit().verdict] == ["probe", "wait"]  # one probe for the stack
    a.failed()  # the probe failed: nothing written, open for another interval
    assert box_a.writes == 4 and b.admit().verdict == "wait"
    clock.t += 61
    assert b.admit().verdict == "probe"
    b.succeeded()
    assert table.view(KEY).state(clock.t) == "closed" and table.view(KEY).released_at == clock.t
    assert b.admit().verdict == "run"


def test_a_container_that_saw_it_open_runs_once_another_closed_it(table):
    """b last saw the circuit open; a took the probe and closed it. At its next probe time b's view is half-open: its
    probe write fails on the closed item, and its records run (they waited the retry schedule on a closed circuit)."""
    clock = Clock()
    a, _, _ = shared(table, clock)
    b, _, _ = shared(table, clock)
    for _ in range(3):
        a.failed()
    b.failed()  # b's write finds it open: b's view is open
    assert b.view().state(clock.t) == "open"
    clock.t += 61
    assert a.admit().verdict == "probe"
    a.succeeded()
    clock.t += 1
    verdict = b.admit()
    assert verdict.verdict == "run" and b.probes_taken == 0


def test_a_container_that_books_nothing_reads_the_item_once_per_interval_and_ten_times_while_it_is_open(table):
    """A container whose records are held back books nothing, so only its reads tell it the circuit closed: while it
    last saw it open it reads the item every tenth of the probe interval (a close is seen within 6 s, not at the next
    probe time it knows of, up to a whole interval later); otherwise once per interval."""
    clock = Clock()
    opener, _, _ = shared(table, clock)
    for _ in range(3):
        opener.failed()
    idle, _, reads = shared(table, clock)
    for _ in range(12):  # a batch every 5 s for the first minute, the circuit open
        assert idle.current().state(clock.t) == "open"
        clock.t += 5
    assert len(reads) == 6  # at 0, 10, ..., 50 s: never more than one per tenth of the interval (6 s)
    assert opener.admit().verdict == "probe"  # at 60 s: the next probe time moves to 120 s
    assert idle.admit().verdict == "wait"  # its probe write fails on the item, which says open until 120 s
    assert idle.current().state(clock.t) == "open"
    clock.t += 2
    opener.succeeded()  # at 62 s the probe's success closes it
    closed_at = clock.t
    for _ in range(60):  # a batch every second
        if idle.current().state(clock.t) == "closed":
            break
        clock.t += 1
    assert clock.t - closed_at <= 6  # seen within a tenth of the interval, not at 120 s
    before, seen_closed = len(reads), reads[-1]
    for _ in range(30):  # closed: a batch every 5 s for 150 s
        assert idle.current().state(clock.t) == "closed"
        clock.t += 5
    assert reads[before:] == [seen_closed + 60, seen_closed + 120]  # once per interval
