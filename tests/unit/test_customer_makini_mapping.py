import pytest

from ipaas_sync.core.errors import InvalidRecord, PermanentError
from ipaas_sync.core.models.ipaas import IpaasCustomer
from ipaas_sync.destinations.makini.mapping import customer as m


def customer(**kw):
    base = {
        "id": 9,
        "customer_number": "C-9",
        "first_name": " Grace",
        "last_name": "Hopper ",
        "email_address": "grace@example.com",
    }
    return IpaasCustomer.model_validate({**base, **kw})


def test_name_code_and_company_key():
    assert m.map_customer(customer(), "07000268162057") == {"name": "Grace Hopper", "code": "C-9", "companyKey": "07000268162057"}


def test_company_key_is_omitted_when_not_configured():
    assert "companyKey" not in m.map_customer(customer(), None)


@pytest.mark.parametrize(
    "kw,name", [({"last_name": None}, "Grace"), ({"first_name": None, "last_name": None, "company": "Navy"}, "Navy")]
)
def test_name_falls_back(kw, name):
    assert m.map_customer(customer(**kw), None)["name"] == name


def test_customer_number_is_required():
    with pytest.raises(InvalidRecord, match="customer 9: missing required field 'customer_number'"):
        m.map_customer(customer(customer_number=" "), None)


def test_a_name_is_required():
    with pytest.raises(InvalidRecord, match="'first_name', 'last_name' or 'company'"):
        m.map_customer(customer(first_name="", last_name=None), None)


def test_key_from_reply():
    assert m.key_from_reply({"data": {"key": "03000666015183"}}, "customer 9") == "03000666015183"
    with pytest.raises(PermanentError, match="no data.key"):
        m.key_from_reply({"data": {}}, "customer 9")
