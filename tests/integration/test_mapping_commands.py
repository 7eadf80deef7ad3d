"""`ipaas-sync mapping` against the local stack: an override deployed to (moto's) SSM Parameter Store, a preview of a
sandbox iPaaS.com transaction with a candidate collection (the verdict, the exact payload, the difference), and
nothing written anywhere by a preview."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ipaas_sync.tools import mapping as mapping_commands
from sandbox.pipeline import transaction
from sandbox.stack import MAKINI_SYSTEM_ID, NINETYNINE_SYSTEM_ID

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mappings"


def run(*argv: str) -> int:
    top = argparse.ArgumentParser(prog="ipaas-sync")
    mapping_commands.register_cli(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(["mapping", *argv])
    return args.run(args)


@pytest.fixture
def cli_env(stack, monkeypatch):
    for key, value in stack.cli_environment().items():
        monkeypatch.setenv(key, value)
    return stack


def test_preview_shows_the_candidates_payload_and_writes_nothing(cli_env, capsys):
    stack = cli_env
    ret = transaction("7003", "RT-7003", "42", type="Validated Return", total="-40.25", subtotal="-40.00", total_qty="-1")
    stack.ipaas.put("transactions", {**ret, "shipping_amount": "5.00"})
    stack.ipaas.take_outbox()
    candidate = str(EXAMPLES / "refund-formula.json")
    assert run("preview", "--destination", NINETYNINE_SYSTEM_ID, "--entity", "transaction", "--id", "7003",
               "--collection", candidate) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "deployed: '99minds Invoice From iPaaS' (99minds order_workflow): passes the filter" in out
    assert '-  "refund_amount": 40.25,' in out and '+  "refund_amount": 35.25,' in out
    assert stack.ninetynine.calls("POST") == [] and stack.ipaas.take_outbox() == []  # nothing written


def test_a_deployed_override_is_what_preview_compares_with_and_rollback_restores(cli_env, capsys):
    stack = cli_env
    stack.ipaas.put("transactions", transaction("7001", "SO-7001", "42"))
    loyalty = str(EXAMPLES / "loyalty-points-source.json")
    assert run("deploy", "--destination", NINETYNINE_SYSTEM_ID, "--file", loyalty, "--note", "points from PointsRedeemed") == 0
    assert run("preview", "--destination", NINETYNINE_SYSTEM_ID, "--entity", "transaction", "--id", "7001") == 0
    out = capsys.readouterr().out
    assert "loyalty_points_claimed" not in out  # the sample order has no PointsRedeemed custom field
    assert run("deploy", "--destination", NINETYNINE_SYSTEM_ID, "--file", str(EXAMPLES / "web-orders-only.json")) == 0
    assert run("rollback", "--destination", NINETYNINE_SYSTEM_ID) == 0
    assert run("history", "--destination", NINETYNINE_SYSTEM_ID) == 0
    history = capsys.readouterr().out.splitlines()[-3:]
    assert [line.split()[1] for line in history] == ["1", "2", "3"] and "rollback to version 1" in history[2]
    assert run("show", "--destination", NINETYNINE_SYSTEM_ID) == 0
    shown = capsys.readouterr().out
    assert "decimal(custom_field('PointsRedeemed'))" in shown and "system_id == '2002'" not in shown
    assert shown.count('\n  "name": ') == 9  # every default collection, the override laid over one


def test_a_preview_reads_the_links_a_payload_needs_and_names_those_that_do_not_exist_yet(cli_env, capsys):
    """A Makini sales order needs its customer's link and its lines' products (before: shown as placeholders and an
    empty product table, so the preview said the order would be dead-lettered); a 99minds order whose customer is not
    linked yet shows a placeholder naming the link, and says so. Nothing is written anywhere."""
    stack = cli_env
    customer = stack.makini.add_customer("C-5")
    stack.ipaas.set_link(MAKINI_SYSTEM_ID, "customer", "5", customer["key"])
    product = stack.makini.add_product("SKU-1")
    lines = [{"sku": "SKU-1", "qty": "2", "unit_price": "10.00"}, {"sku": "SKU-9", "qty": "1", "unit_price": "1.00"}]
    stack.ipaas.put("transactions", transaction("7101", "SO-7101", "5", created_datetime="2025-03-01T10:00:00Z", lines=lines))
    stack.ipaas.put("transactions", transaction("7102", "SO-7102", "77"))
    stack.ipaas.take_outbox()
    requests_before = {name: len(getattr(stack, name).requests) for name in ("ipaas", "makini", "ninetynine")}
    assert run("preview", "--destination", MAKINI_SYSTEM_ID, "--entity", "transaction", "--id", "7101") == 0
    out = capsys.readouterr().out
    assert "(makini sales_order): passes the filter" in out, out
    assert f"linked_customer_key = {customer['key']} (iPaaS.com customer 5's makini link)" in out
    assert f'"customerKey": "{customer["key"]}"' in out and f'"productKey": "{product["key"]}"' in out
    assert (
        "product SKU-9: not in Makini yet (placeholder)" in out
        and '"productKey": "<no Makini product with SKU SKU-9 yet>"' in out
    )
    assert run("preview", "--destination", NINETYNINE_SYSTEM_ID, "--entity", "transaction", "--id", "7102") == 0
    out = capsys.readouterr().out
    assert '"customer_id": "<linked_customer_id: iPaaS.com customer 77\'s 99minds link does not exist yet>"' in out, out
    assert "linked_customer_id: iPaaS.com customer 77's 99minds link does not exist yet (placeholder)" in out
    assert "is a placeholder for a link that does not exist yet" in out
    for name, before in requests_before.items():
        assert {c.method for c in getattr(stack, name).requests[before:]} <= {"GET"}, name  # reads only
    assert stack.ipaas.take_outbox() == [] and stack.makini.calls("POST") == []
