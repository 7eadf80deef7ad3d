import pytest

from ipaas_sync.core.errors import InvalidRecord, PermanentError
from ipaas_sync.core.models.ipaas import IpaasCustomer
from ipaas_sync.destinations.stamped.mapping import customer as m


def customer(**kw):
    base = {
        "id": 7,
        "customer_number": " C-7 ",
        "first_name": " Ada ",
        "last_name": "Lovelace",
        "email_address": "Ada@Example.com",
    }
    return IpaasCustomer.model_validate({**base, **kw})


def test_maps_every_field_with_the_customer_number_as_external_reference():
    assert m.map_customer(customer()) == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "customCustomerId": "C-7",
    }


def test_absent_optional_fields_are_not_sent():
    assert m.map_customer(customer(first_name=None, last_name=" ", customer_number=None)) == {"email": "ada@example.com"}


def test_email_is_required_and_valid():
    with pytest.raises(InvalidRecord, match="customer 7: missing required field 'email_address'"):
        m.map_customer(customer(email_address=None))
    with pytest.raises(InvalidRecord, match="field 'email_address' is not a valid email"):
        m.map_customer(customer(email_address="ada at example"))


@pytest.mark.parametrize(
    "reply", [{"id": 143491}, {"customerId": "143491"}, {"customer": {"id": 143491}}, {"data": {"id": 143491}}]
)
def test_customer_id_from_reply(reply):
    assert m.customer_id_from_reply(reply, "customer 7") == "143491"


@pytest.mark.parametrize("reply", [{}, [], None, {"id": ""}])
def test_reply_without_id_is_an_error(reply):
    with pytest.raises(PermanentError, match="carries no customer id"):
        m.customer_id_from_reply(reply, "customer 7")
