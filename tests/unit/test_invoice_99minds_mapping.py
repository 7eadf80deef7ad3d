"""The seed's formulas for the 99minds order workflow, one by one, with the seed's cases."""

from decimal import Decimal

import pytest

from ipaas_sync.core.errors import InvalidRecord
from ipaas_sync.core.models.ipaas import IpaasTransaction
from ipaas_sync.destinations.ninetynine_minds.mapping import transaction as m
from ipaas_sync.destinations.ninetynine_minds.settings import StoreRef

STORE = StoreRef(kind="store_ref_id", value="store_b81a893dc2bc6e1a5d")
D = Decimal


def txn(**kw):
    base = {
        "id": 9001,
        "transaction_number": "SO-1001",
        "customer_id": 42,
        "type": "Order",
        "status": "Complete",
        "subtotal": "90.00",
        "total": "99.50",
        "total_qty": "3",
        "lines": [{"id": 1, "sku": "MUG-01", "qty": "2"}, {"id": 2, "sku": "TEE-01", "qty": 1}],
    }
    return IpaasTransaction.model_validate({**base, **kw})


# -- Trigger: if (Type == "Order" && Total >= 0) order_paid; if (Type == "Validated Return" || Total < 0) order_refunded
@pytest.mark.parametrize(
    "type_,total,expected",
    [
        ("Order", D("99.50"), "order_paid"),
        ("Order", D("0"), "order_paid"),
        ("Order", D("-5"), "order_refunded"),
        ("Validated Return", D("-40"), "order_refunded"),
        ("Validated Return", D("40"), "order_refunded"),
        ("Validated Return", None, "order_refunded"),
        ("Order", None, None),
        ("Quote", D("10"), None),
        ("Quote", D("-10"), "order_refunded"),
        (None, None, None),
    ],
)
def test_trigger(type_, total, expected):
    assert m.trigger(type_, total) == expected


# -- TotalPrice: if (Type == "Validated Return" || Total < 0) null; if (Total >= 0) Total; else null
@pytest.mark.parametrize(
    "type_,total,expected",
    [
        ("Order", D("99.50"), D("99.50")),
        ("Order", D("0"), D("0")),
        ("Order", D("-5"), None),
        ("Validated Return", D("-40"), None),
        ("Validated Return", D("40"), None),
        ("Order", None, None),
    ],
)
def test_total_price(type_, total, expected):
    assert m.total_price(type_, total) == expected


# -- RefundAmount: Validated Returns only, abs(Total) of the return
@pytest.mark.parametrize(
    "type_,total,expected",
    [
        ("Validated Return", D("-40.25"), D("40.25")),
        ("Validated Return", D("40.25"), D("40.25")),
        ("Validated Return", D("0"), D("0")),
        ("Validated Return", None, None),
        ("Order", D("-5"), None),
        ("Order", D("99.50"), None),
    ],
)
def test_refund_amount(type_, total, expected):
    assert m.refund_amount(type_, total) == expected


@pytest.mark.parametrize(
    "fields,expected",
    [
        ([{"name": "LoyaltyPointsClaimed", "value": "120"}], D("120")),
        # iPaaS.com's published read shape (GenericCustomFieldResponse)
        (
            [
                {"id": 51, "custom_field_name": "Other", "value": "1"},
                {"id": 52, "custom_field_name": "LoyaltyPointsClaimed", "value": "80"},
            ],
            D("80"),
        ),
        ({"LoyaltyPointsClaimed": 7.5}, D("7.5")),
        ([{"name": "Other", "value": "1"}], None),
        ([{"name": "LoyaltyPointsClaimed", "value": " "}], None),
        (None, None),
    ],
)
def test_loyalty_points_claimed(fields, expected):
    assert m.loyalty_points_claimed(txn(custom_fields=fields)) == expected


@pytest.mark.parametrize("value", ["lots", "NaN", "Infinity"])
def test_loyalty_points_that_are_not_a_number_are_named(value):
    with pytest.raises(InvalidRecord, match="transaction SO-1001: custom field 'LoyaltyPointsClaimed' is not a number"):
        m.loyalty_points_claimed(txn(custom_fields={"LoyaltyPointsClaimed": value}))


@pytest.mark.parametrize(
    "value,expected", [(D("3"), 3), (D("3.00"), 3), (D("99.50"), 99.5), (D("-40.25"), -40.25), (D("0.1"), 0.1), (None, None)]
)
def test_wire_number(value, expected):
    got = m.wire_number(value)
    assert got == expected and type(got) is type(expected)


# -- the whole body --------------------------------------------------------------------------------------
def test_order_maps_every_field():
    payload = m.map_invoice(
        txn(custom_fields=[{"name": "LoyaltyPointsClaimed", "value": "150"}]),
        customer_id="customer_abc",
        original_order_id=None,
        store=STORE,
    )
    assert payload == {
        "idempotent_id": "SO-1001",
        "customer_id": "customer_abc",
        "trigger": "order_paid",
        "total_price": 99.5,
        "subtotal_price": 90,
        "total_quantity": 3,
        "loyalty_points_claimed": 150,
        "line_items": [{"quantity": 2, "sku": "MUG-01", "line_id": "1"}, {"quantity": 1, "sku": "TEE-01", "line_id": "2"}],
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
    }


def test_validated_return_carries_refund_and_original_order_but_no_total_price():
    payload = m.map_invoice(
        txn(
            type="Validated Return",
            transaction_number="RT-1",
            subtotal="-36.00",
            total="-40.25",
            total_qty="1",
            lines=[{"id": 7, "sku": "MUG-01", "qty": 1}],
        ),
        customer_id="customer_abc",
        original_order_id="SO-1001",
        store=STORE,
    )
    assert payload["trigger"] == "order_refunded" and "total_price" not in payload
    assert payload["refund_amount"] == 40.25 and payload["subtotal_price"] == -36
    assert payload["original_order_id"] == "SO-1001" and payload["idempotent_id"] == "RT-1"


def test_negative_order_is_a_refund_trigger_without_refund_amount_or_original_order():
    payload = m.map_invoice(txn(total="-5"), customer_id="c", original_order_id="SO-0", store=STORE)
    assert payload["trigger"] == "order_refunded"
    assert {"total_price", "refund_amount", "original_order_id"}.isdisjoint(payload)


def test_client_store_id_goes_under_its_own_key():
    payload = m.map_invoice(txn(), customer_id="c", original_order_id=None, store=StoreRef(kind="client_store_id", value="1"))
    assert payload["client_store_id"] == "1" and "store_ref_id" not in payload


def test_line_without_sku_is_sent_without_it():
    payload = m.map_invoice(txn(lines=[{"id": 5, "qty": 1}]), customer_id="c", original_order_id=None, store=STORE)
    assert payload["line_items"] == [{"quantity": 1, "line_id": "5"}]


# -- errors, each naming the transaction and the field -------------------------------------------------------
@pytest.mark.parametrize("field", ["transaction_number", "customer_id", "subtotal", "total_qty"])
def test_each_required_field_is_named(field):
    with pytest.raises(InvalidRecord, match=f"missing required field '{field}'") as err:
        m.validate(txn(**{field: None}))
    assert str(err.value).startswith("transaction ")


def test_all_missing_fields_are_named_at_once():
    with pytest.raises(InvalidRecord, match="transaction SO-1001: missing required fields 'customer_id', 'subtotal'"):
        m.validate(txn(customer_id=None, subtotal=None))


def test_zero_subtotal_and_quantity_are_present_values():
    assert m.validate(txn(subtotal="0", total_qty="0", total="0")) == "order_paid"


def test_validated_return_without_return_amount_is_invalid_refund_data():
    with pytest.raises(InvalidRecord, match="transaction RT-2: Invalid refund data: .* no return amount"):
        m.validate(txn(type="Validated Return", transaction_number="RT-2", total=None))


def test_order_without_total_names_the_field():
    with pytest.raises(InvalidRecord, match="missing required field 'total'"):
        m.validate(txn(total=None))


def test_unsupported_type_is_named():
    with pytest.raises(InvalidRecord, match="unsupported transaction type 'Quote'"):
        m.validate(txn(type="Quote"))


@pytest.mark.parametrize("line,field", [({"sku": "A", "qty": 1}, "lines[0].id"), ({"id": 1, "sku": "A"}, "lines[0].qty")])
def test_line_fields_are_named(line, field):
    with pytest.raises(InvalidRecord) as err:
        m.map_invoice(txn(lines=[line]), customer_id="c", original_order_id=None, store=STORE)
    assert str(err.value) == f"transaction SO-1001: missing required field '{field}'"


def test_customer_id_is_required_in_the_body():
    with pytest.raises(InvalidRecord, match="'CustomerId'"):
        m.map_invoice(txn(), customer_id="", original_order_id=None, store=STORE)


# -- conflicts and replies ------------------------------------------------------------------------------
def test_differences_name_each_changed_field():
    before = m.summary(m.map_invoice(txn(), customer_id="c", original_order_id=None, store=STORE))
    after = m.summary(m.map_invoice(txn(total="120", lines=[]), customer_id="c", original_order_id=None, store=STORE))
    assert m.differences(before, after) == ["line_items: 2 -> 0", "total_price: 99.5 -> 120"]
    assert m.differences(before, before) == []


@pytest.mark.parametrize(
    "reply,expected",
    [
        ({"code": 200, "data": {"execution": {"id": "execution_1"}}}, "execution_1"),
        ({"data": {"id": "x"}}, "x"),
        ({"data": {"execution_id": 5}}, "5"),
        ({"data": {"workflow_execution_id": "w"}}, "w"),
        ({"code": 200, "message": "ok"}, None),
        (None, None),
        ([], None),
    ],
)
def test_execution_id_from_reply(reply, expected):
    assert m.execution_id_from_reply(reply) == expected
