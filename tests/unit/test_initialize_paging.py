"""Pure parts of initialize: the count estimate by probing pages, reply shapes, paging settings, dates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipaas_sync.tools.initialize.paging import IpaasSearch, NinetyNineMindsCustomers, Paging, records_of
from ipaas_sync.tools.initialize.run import parse_date, record_time
from ipaas_sync.tools.initialize.sources import NINETYNINE_MINDS_PAGING, estimate


class FakeSearch:
    """A search client over `total` records, paged as the settings say; counts the pages read."""

    def __init__(self, total: int, ignore_paging: bool = False):
        self.total, self.ignore_paging, self.reads = total, ignore_paging, 0

    def search_page(self, entity, params, *, what):
        self.reads += 1
        records = [{"id": str(i)} for i in range(self.total)]
        if self.ignore_paging:
            return records
        page, size = params["page"], params["page_size"]
        return {"data": records[(page - 1) * size : page * size]}


@given(total=st.integers(0, 2000), size=st.integers(1, 50))
def test_the_estimate_is_exact_and_cheap(total, size):
    client = FakeSearch(total)
    found = estimate(IpaasSearch(client, "customer", Paging(page_size=size)), max_probes=64)
    assert found.exact and found.records == total
    assert found.pages == max(1, -(-total // size))
    pages = total // size + 1
    assert client.reads <= 2 * pages.bit_length() + 2


class FakeCustomerList:
    """99minds' customer list over `total` customers, `served` per page whatever is asked (0: as asked)."""

    def __init__(self, total: int, served: int = 0, ignore_page_no: bool = False):
        self.total, self.served, self.ignore_page_no, self.reads = total, served, ignore_page_no, 0

    def list_customers(self, params, *, what):
        self.reads += 1
        size = self.served or params["page_size"]
        page = 1 if self.ignore_page_no else params["page_no"]
        return {
            "code": 200,
            "data": {"customers": [{"id": f"customer_{i}"} for i in range(self.total)][(page - 1) * size : page * size]},
        }


@given(total=st.integers(0, 600), size=st.integers(1, 30), served=st.integers(0, 30))
def test_a_list_that_ends_at_an_empty_page_is_counted_exactly_whatever_page_size_99minds_serves(total, size, served):
    paging = Paging.from_env("NINETYNINE_MINDS_LIST", NINETYNINE_MINDS_PAGING, page_size=size)
    client = FakeCustomerList(total, served)
    found = estimate(NinetyNineMindsCustomers(client, paging), max_probes=64)
    per_page = served or size
    assert found.exact and found.records == total and found.pages == max(1, -(-total // per_page))
    assert client.reads <= 2 * (total // per_page + 2).bit_length() + 2


def test_a_customer_list_that_ignores_page_no_ends_at_the_repeated_page():
    customers = NinetyNineMindsCustomers(FakeCustomerList(10, ignore_page_no=True), NINETYNINE_MINDS_PAGING)
    assert len(customers.page(1).records) == 10 and not customers.page(1).last
    repeated = customers.page(2)
    assert repeated.last and repeated.records == []


def test_an_endpoint_that_ignores_paging_is_one_page():
    search = IpaasSearch(FakeSearch(250, ignore_paging=True), "customer", Paging(page_size=100))
    first = search.page(1)
    assert first.last and len(first.records) == 250
    assert estimate(search).records == 250


@pytest.mark.parametrize("body, count", [([{"id": 1}, {"id": 2}], 2), ({"items": [{"id": 1}]}, 1), (None, 0), ({"value": []}, 0)])
def test_reply_shapes(body, count):
    assert len(records_of(body, "page 1")) == count


@pytest.mark.parametrize("body", [{"total": 3}, "text", 42])
def test_an_unknown_reply_shape_is_a_clear_error(body):
    with pytest.raises(ValueError, match="page 1: the reply"):
        records_of(body, "page 1")


def test_paging_settings_come_from_the_environment_with_defaults(monkeypatch):
    assert Paging.from_env() == Paging("page", "page_size", 1, 100)
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_PARAM", "pageNumber")
    monkeypatch.setenv("IPAAS_SEARCH_PAGE_SIZE", "250")
    assert Paging.from_env(page_size=None) == Paging("pageNumber", "page_size", 1, 250)
    assert Paging.from_env(page_size=10).page_size == 10
    assert Paging.from_env("NINETYNINE_MINDS_LIST", NINETYNINE_MINDS_PAGING) == Paging("page_no", "page_size", 1, 50, "empty")
    monkeypatch.setenv("NINETYNINE_MINDS_LIST_SIZE_PARAM", "none")
    assert Paging.from_env("NINETYNINE_MINDS_LIST", NINETYNINE_MINDS_PAGING).params(3) == {"page_no": 3}
    with pytest.raises(ValueError, match="page size"):
        Paging.from_env(page_size=0)


def test_dates():
    assert parse_date("2025-01-02", "since").isoformat() == "2025-01-02T00:00:00+00:00"
    assert parse_date("2025-01-02T10:00:00Z", "since").isoformat() == "2025-01-02T10:00:00+00:00"
    with pytest.raises(ValueError, match="since 'yesterday' is neither an age .* nor a date"):
        parse_date("yesterday", "since")
    assert record_time({"created_datetime": "2025-03-01T00:00:00"}).isoformat() == "2025-03-01T00:00:00+00:00"
    assert record_time({"updated_datetime": "n/a"}) is None


def test_initialize_is_a_scope_the_handlers_take():
    from ipaas_sync.core.models.notification import TransferMessage

    msg = TransferMessage(scope="Customer/Initialize", id="158056", destination="1001")
    assert (msg.entity, msg.verb) == ("customer", "initialize")


def test_a_ledger_item_becomes_the_run_it_keeps_and_a_wrong_field_is_named():
    from decimal import Decimal

    from ipaas_sync.tools.initialize.checkpoint import RunState

    item = {
        "pk": "initialize#customer",
        "sk": "42",
        "kind": "initialize",
        "run_id": "abc",
        "owner": "ops",
        "status": "handoff",
        "page": Decimal(7),
        "enqueued": Decimal(650),
        "limit": Decimal(1000),
        "since": "2026-01-01T00:00:00+00:00",
        "lock_expires_at": Decimal(1_800_000_000),
    }
    state = RunState.from_item("customer", "42", item)
    assert (state.run_id, state.owner, state.status, state.page, state.enqueued, state.limit, state.since) == (
        "abc",
        "ops",
        "handoff",
        7,
        650,
        1000,
        "2026-01-01T00:00:00+00:00",
    )
    assert type(state.page) is int and state.until is None and state.offset == 0  # absent: the default
    with pytest.raises(ValueError, match="'page' is a str, not a number"):
        RunState.from_item("customer", "42", {**item, "page": "7"})
    with pytest.raises(ValueError, match="'run_id' is a NoneType, not a text"):
        RunState.from_item("customer", "42", {"owner": "ops"})


def test_the_99minds_customer_source_refuses_a_subscription_of_another_platform():
    from ipaas_sync.core.settings import parse_subscription
    from ipaas_sync.tools.initialize.paging import ninetynine_minds_customers

    stamped = parse_subscription(
        {
            "Platform": "stamped",
            "Name": "Stamped.io",
            "iPaaS System Id": 2001,
            "iPaaS API Token": "tok-SECRET-1",
            "API Public Key": "pubkey-PUBLIC-1",
            "API Private Key": "key-SECRET-PRIVATE-2",
            "API Store Hash": "270392",
        }
    )
    with pytest.raises(ValueError, match="'2001' is a stamped subscription, not a 99minds one") as caught:
        ninetynine_minds_customers(stamped, "customer", NINETYNINE_MINDS_PAGING)
    assert "SECRET" not in str(caught.value)
