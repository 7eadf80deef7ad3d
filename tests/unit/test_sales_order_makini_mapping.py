from decimal import Decimal

import pytest

from ipaas_sync.core.errors import InvalidRecord
from ipaas_sync.core.models.ipaas import IpaasTransaction
from ipaas_sync.destinations.makini.mapping import transaction as m

PRODUCTS = {"SKU-1": "0000000000001", "SKU-2": "0000000000002"}


def txn(**kw):
    base = {
        "id": 77,
        "transaction_number": "1077",
        "type": "Order",
        "status": "Complete",
        "created_datetime": "2025-03-01T10:00:00Z",
        "lines": [
            {
                "sequence_number": 1,
                "sku": "SKU-1",
                "qty": "2",
                "unit_price": "10.00",
                "extended_price": "18.00",
                "discount_amount": "2.00",
            },
            {"sequence_number": 2, "sku": "SKU-2", "qty": 1, "unit_price": "5.5"},
        ],
    }
    return IpaasTransaction.model_validate({**base, **kw})


def test_maps_the_order_and_its_lines():
    assert m.map_sales_order(txn(), customer_key="0300", product_keys=PRODUCTS) == {
        "code": "1077",
        "orderNumber": "1077",
        "date": "2025-03-01T10:00:00+00:00",
        "customerKey": "0300",
        "lines": [
            {"productKey": "0000000000001", "quantity": "2", "price": "10", "discount": "2", "lineTotalValue": "18"},
            {"productKey": "0000000000002", "quantity": "1", "price": "5.5", "lineTotalValue": "5.5"},
        ],
    }


def test_guest_order_has_no_customer_key():
    assert "customerKey" not in m.map_sales_order(txn(), customer_key=None, product_keys=PRODUCTS)


def test_line_total_without_extended_price_is_qty_times_price_less_discount():
    line = txn(lines=[{"sku": "SKU-1", "qty": 3, "unit_price": "2.50", "discount_amount": "0.50"}]).lines[0]
    assert m.line_total(line) == Decimal("7.00")


@pytest.mark.parametrize(
    "value,text", [(Decimal("10.00"), "10"), (Decimal("19.990"), "19.99"), (Decimal("0.00"), "0"), (Decimal("1E+2"), "100")]
)
def test_amounts_are_plain_decimal_strings(value, text):
    assert m.amount(value) == text


def test_required_skus_are_distinct_and_in_order():
    lines = [
        {"sku": "B", "qty": 1, "unit_price": 1},
        {"sku": "A", "qty": 1, "unit_price": 1},
        {"sku": "B", "qty": 2, "unit_price": 1},
    ]
    assert m.required_skus(txn(lines=lines)) == ["B", "A"]


@pytest.mark.parametrize(
    "kw,reason",
    [
        ({"transaction_number": None}, "transaction 77: missing required field 'transaction_number'"),
        ({"lines": []}, "transaction 1077: field 'lines' is empty"),
        ({"lines": [{"sequence_number": 4, "qty": 1, "unit_price": 1}]}, "transaction 1077 line 4: missing required field 'sku'"),
        ({"lines": [{"sku": "X"}]}, "transaction 1077 line 1: missing required fields 'qty', 'unit_price'"),
        ({"lines": [{"sku": "X", "qty": 0, "unit_price": 1}]}, "field 'qty' must be positive"),
        ({"lines": [{"sku": "X", "qty": 1, "unit_price": -1}]}, "field 'unit_price' must not be negative"),
    ],
)
def test_bad_orders_name_the_record_and_field(kw, reason):
    with pytest.raises(InvalidRecord) as err:
        m.required_skus(txn(**kw))
    assert reason in str(err.value)


def test_unknown_product_names_the_line_and_sku():
    with pytest.raises(InvalidRecord, match="transaction 1077 line 2: SKU 'SKU-2' has no Makini product"):
        m.map_sales_order(txn(), customer_key=None, product_keys={"SKU-1": "1"})
