"""`ipaas-sync sync`: manual sync of named records, as iPaaS.com's Manual Sync page sends them."""

from __future__ import annotations

import json
from collections import Counter

from ipaas_sync.tools.cli import main
from ipaas_sync.tools.sync import MAX_IDS, read_ids
from sandbox.stack import NINETYNINE_SYSTEM_ID
from tests.integration.conftest import add_customer

QUEUE = "CustomerNinetyNineMindsQueue"


def bodies(stack, queue: str = QUEUE) -> list[dict]:
    return [json.loads(m["Body"]) for m in stack.messages(queue)]


def test_manual_sync_with_an_ids_file(stack, tmp_path, capsys):
    for id_ in ("158056", "158057", "158058"):
        add_customer(stack, id_)
    ids = tmp_path / "ids.txt"
    ids.write_text("# customers the merchant asked about\n158056\n158057, 158056\n\n", encoding="utf-8")
    assert (
        main(["sync", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--ids-file", str(ids), "--id", "158058"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.strip() == (
        f"enqueued 3 customer/updated notification(s) for destination {NINETYNINE_SYSTEM_ID} "
        "('99minds - Local') onto ipaas-sync-local-customer-99minds: 158058, 158056, 158057"
    )
    queued = bodies(stack)
    assert sorted(b["id"] for b in queued) == ["158056", "158057", "158058"]
    assert {(b["scope"], b["action"], b["destination"]) for b in queued} == {
        ("customer/updated", "UPDATED", NINETYNINE_SYSTEM_ID)
    }
    stack.drain(max_seconds=60, functions=["CustomerTransferFunction"])
    assert Counter(o["status"] for o in stack.outcomes()) == {"created": 3}


def test_a_transaction_is_named_by_its_id(stack, capsys):
    assert main(["sync", "--entity", "transaction", "--destination", NINETYNINE_SYSTEM_ID, "--id", "159865"]) == 0
    assert [(b["scope"], b["id"]) for b in bodies(stack, "TransactionNinetyNineMindsQueue")] == [
        ("transaction/updated", "159865")
    ]


def test_bad_input_is_refused_before_anything_is_enqueued(stack, tmp_path, capsys):
    many = tmp_path / "many.txt"
    many.write_text("\n".join(str(i) for i in range(MAX_IDS + 1)), encoding="utf-8")
    assert main(["sync", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--ids-file", str(many)]) == 1
    assert f"{MAX_IDS + 1} ids: at most {MAX_IDS} at once" in capsys.readouterr().err
    assert (
        main(["sync", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--ids-file", str(tmp_path / "missing.txt")])
        == 1
    )
    assert "cannot read the ids file" in capsys.readouterr().err
    assert main(["sync", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID]) == 1
    assert "name at least one record" in capsys.readouterr().err
    assert bodies(stack) == []
    many.write_text("\n".join(str(i) for i in range(MAX_IDS)), encoding="utf-8")  # exactly the maximum is taken
    assert len(read_ids(["0"], str(many))) == MAX_IDS  # (not enqueued here: 3,000 sends take moto minutes)


def test_a_transaction_number_is_refused_at_once_naming_what_was_expected(stack, capsys):
    assert main(["sync", "--entity", "transaction", "--destination", NINETYNINE_SYSTEM_ID, "--id", "SO-2001"]) == 1
    err = capsys.readouterr().err
    assert "'SO-2001': not an iPaaS.com transaction id" in err and "not its transaction number" in err, err
    assert "nothing was enqueued" in err and stack.messages("TransactionNinetyNineMindsQueue") == []
