import pytest
from pydantic import ValidationError

from ipaas_sync.core.errors import classify
from ipaas_sync.core.models.notification import HookRequest, TransferMessage


def test_contract_example_parses():
    msg = TransferMessage.model_validate_json(
        '{"scope": "Customer/Created", "id": 501, "destination": 1001, "tracking_guid": "g", "action": "CREATED"}'
    )
    assert (msg.entity, msg.verb, msg.id, msg.destination, msg.record) == ("customer", "created", "501", "1001", None)


@pytest.mark.parametrize("scope", ["customer", "order/created", "customer/exploded", ""])
def test_unknown_scope_is_rejected(scope):
    with pytest.raises(ValidationError) as err:
        TransferMessage.model_validate({"scope": scope, "id": "1", "destination": "2"})
    assert classify(err.value) == "permanent"


def test_hook_request_needs_notifications():
    with pytest.raises(ValidationError):
        HookRequest.model_validate({"id": 1, "attempt": 1, "notifications": []})
