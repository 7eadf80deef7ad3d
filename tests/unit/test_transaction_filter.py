import pytest

from ipaas_sync.core.models.ipaas import IpaasTransaction
from ipaas_sync.core.settings import TransactionFilter, parse_subscription
from ipaas_sync.mapping.transaction_filter import rejection

SEED = TransactionFilter()


def txn(**kw):
    return IpaasTransaction.model_validate({"id": 1, "transaction_number": "1001", "type": "Order", "status": "Complete", **kw})


@pytest.mark.parametrize("kw", [{}, {"type": "Validated Return"}, {"transaction_number": "1001-DX"}])
def test_seed_filter_accepts(kw):
    assert rejection(txn(**kw), SEED) is None


@pytest.mark.parametrize(
    "kw,reason",
    [
        ({"type": "Quote"}, "type 'Quote' is not one of Order, Validated Return"),
        ({"status": "Pending"}, "status 'Pending' is not 'Complete'"),
        ({"transaction_number": "1001-D"}, "ends with '-D'"),
        ({"transaction_number": "1001-GC"}, "ends with '-GC'"),
    ],
)
def test_seed_filter_rejects_with_reason(kw, reason):
    assert reason in rejection(txn(**kw), SEED)


def test_filter_is_a_subscription_setting():
    sub = parse_subscription(
        {
            "Platform": "99minds",
            "Name": "n",
            "iPaaS System Id": 1,
            "iPaaS API Token": "tttt",
            "API Secret Key": "kkkk",
            "Client Store Id": "1",
            "Transaction Types": ["Order"],
            "Excluded Transaction Suffixes": ["-X"],
        }
    )
    rule = sub.transaction_filter
    assert rule.types == ("Order",) and rule.status == "Complete"
    assert rejection(txn(type="Validated Return"), rule) is not None
    assert rejection(txn(transaction_number="1-GC"), rule) is None
    assert "-X" in rejection(txn(transaction_number="1-X"), rule)


def test_a_loyalty_ticket_never_passes_the_99minds_filter():
    """Tickets written into iPaaS.com by the 99minds -> iPaaS.com direction come back as transaction hooks: the
    99minds subscription's filter (defaults) must keep them out of the order workflow (no echo loop)."""
    sub = parse_subscription(
        {
            "Platform": "99minds",
            "Name": "n",
            "iPaaS System Id": "1",
            "iPaaS API Token": "t",
            "API Secret Key": "k",
            "Store Ref Id": "s",
        }
    )
    ticket = txn(type="Ticket", transaction_number="99mindstransaction_a3c44bd1f3bf8b1c2f")
    assert "type 'Ticket' is not one of" in rejection(ticket, sub.transaction_filter)
