import pytest

from ipaas_sync.core.errors import InvalidRecord, PermanentError
from ipaas_sync.core.models.ipaas import IpaasCustomer
from ipaas_sync.destinations.ninetynine_minds.mapping import customer as m
from ipaas_sync.destinations.ninetynine_minds.settings import StoreRef
from ipaas_sync.mapping.common import normalize_phone

STORE = StoreRef(kind="store_ref_id", value="store_b81a893dc2bc6e1a5d")


def customer(**kw):
    base = {
        "id": 42,
        "customer_number": "C-42",
        "first_name": " Ada ",
        "last_name": "Lovelace",
        "email_address": "Ada@Example.com",
    }
    return IpaasCustomer.model_validate({**base, **kw})


def test_maps_every_field():
    payload = m.map_customer(
        customer(
            company="Analytical Engines",
            addresses=[
                {"is_primary_billing": False, "phone_number": "111 111 1111"},
                {"is_primary_billing": True, "phone_number": "+1 (202) 555-0143"},
            ],
        ),
        STORE,
    )
    assert payload == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "customer_number": "C-42",
        "phone": "+12025550143",
        "company": "Analytical Engines",
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
    }


def test_client_store_id_goes_under_its_own_key():
    payload = m.map_customer(customer(), StoreRef(kind="client_store_id", value="1"))
    assert payload["client_store_id"] == "1" and "store_ref_id" not in payload


def test_absent_optional_fields_are_not_sent():
    payload = m.map_customer(customer(), STORE)
    assert "phone" not in payload and "company" not in payload


def test_customer_phone_field_wins_over_addresses():
    c = customer(phone_number="5550102030", addresses=[{"is_primary_billing": True, "phone_number": "999"}])
    assert m.map_customer(c, STORE)["phone"] == "5550102030"


@pytest.mark.parametrize("field", ["email_address", "first_name", "last_name", "customer_number"])
def test_each_required_field_is_named(field):
    with pytest.raises(InvalidRecord) as err:
        m.map_customer(customer(**{field: "  " if field != "customer_number" else None}), STORE)
    assert f"customer 42: missing required field '{field}'" == str(err.value)


def test_all_missing_fields_are_named_at_once():
    with pytest.raises(InvalidRecord, match="'email_address', 'first_name'"):
        m.map_customer(customer(email_address=None, first_name=None), STORE)


def test_invalid_email_is_rejected():
    with pytest.raises(InvalidRecord, match="field 'email_address' is not a valid email"):
        m.map_customer(customer(email_address="not-an-email"), STORE)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("(555) 010-2030", "5550102030"),
        ("+1 202 555 0143", "+12025550143"),
        ("0044 20 7946 0958", "+442079460958"),
        ("555.010.2030", "5550102030"),
        (None, None),
        ("  ", None),
    ],
)
def test_phone_normalisation(raw, expected):
    assert normalize_phone(raw, "customer 1") == expected


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("call me maybe", r"digits or \+international"),
        ("555-0102 ext 7", r"digits or \+international"),
        ("12345", "7 to 15 digits"),
        ("+1234567890123456", "7 to 15 digits"),
        ("1+2345678", r"digits or \+international"),
    ],
)
def test_bad_phones_are_rejected_with_reason(raw, reason):
    with pytest.raises(InvalidRecord, match=reason) as err:
        normalize_phone(raw, "customer 1")
    assert "customer 1: field 'phone_number'" in str(err.value)


def test_update_carries_the_99minds_id():
    assert m.as_update({"email": "a@b.co"}, "customer_1") == {"email": "a@b.co", "id": "customer_1"}


@pytest.mark.parametrize(
    "reply",
    [
        {"code": 200, "data": {"id": "customer_x"}},
        {"data": {"customer": {"id": "customer_x"}}},
        {"data": {"customer_id": "customer_x"}},
    ],
)
def test_customer_id_from_reply(reply):
    assert m.customer_id_from_reply(reply, "customer 1") == "customer_x"


def test_reply_without_id_is_an_error():
    with pytest.raises(PermanentError, match="no customer id"):
        m.customer_id_from_reply({"data": {}}, "customer 1")
