"""`ipaas-sync mapping ...`: test, deploy (validated first), history, rollback against moto's SSM, and what preview
prints (the verdict, the exact payload, the difference a candidate makes)."""

from __future__ import annotations

import argparse
import json

import boto3
import pytest
from moto import mock_aws

from ipaas_sync.mapping.collection import load_defaults
from ipaas_sync.mapping.overrides import compile_with
from ipaas_sync.tools import mapping as cli_mapping

INVOICE = "99minds Invoice From iPaaS"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ipaas-sync")
    cli_mapping.register_cli(top.add_subparsers(dest="command", required=True))
    return top


def run(*argv: str) -> int:
    args = parser().parse_args(["mapping", *argv])
    return args.run(args)


def write(tmp_path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_test_runs_the_default_samples(capsys):
    assert run("test") == 0
    out = capsys.readouterr().out
    assert "ok   99minds Invoice From iPaaS: completed order" in out and out.rstrip().endswith("all passed")


def test_test_fails_a_candidate_that_breaks_an_expected_payload(tmp_path, capsys):
    candidate = {
        "extends": INVOICE,
        "fields": [{"to": "total_price", "kind": "formula", "formula": "total * 2", "type": "number"}],
    }
    assert run("test", "--collection", write(tmp_path, "c.json", candidate)) == 1
    out = capsys.readouterr().out
    assert "FAIL 99minds Invoice From iPaaS: completed order" in out and '"total_price": 199' in out


def test_an_invalid_candidate_is_one_line_naming_collection_field_and_column(tmp_path, capsys):
    candidate = {"extends": INVOICE, "filter": {"formula": "type == 'Order' and totl > 0"}}
    assert run("test", "--collection", write(tmp_path, "c.json", candidate)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ipaas-sync mapping: mapping collection '99minds Invoice From iPaaS'")
    assert "field 'filter': unknown field 'totl' (column 21)" in err and "\n" not in err


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MAPPING_PARAMETER_PREFIX", "/ipaas-sync")
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_deploy_history_rollback(ssm, tmp_path, capsys):
    good = write(tmp_path, "good.json", {"collections": [{"extends": INVOICE, "status": "Disabled"}]})
    bad = write(
        tmp_path,
        "bad.json",
        {"collections": [{"extends": INVOICE, "fields": [{"to": "x", "kind": "lookup", "table": "nope", "source": "id"}]}]},
    )
    assert run("deploy", "--destination", "1001", "--file", good, "--note", "pause invoices") == 0
    assert run("deploy", "--destination", "1001", "--file", bad) == 1
    assert "field 'x': unknown lookup table 'nope'" in capsys.readouterr().err
    assert run("deploy", "--destination", "1001", "--file", write(tmp_path, "empty.json", {"collections": []})) == 0
    assert run("rollback", "--destination", "1001") == 0
    assert "version 1 restored as version 3" in capsys.readouterr().out
    assert json.loads(ssm.get_parameter(Name="/ipaas-sync/mappings/99minds/1001")["Parameter"]["Value"]) == json.load(open(good))
    assert run("history", "--destination", "1001") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1", "2", "3"]
    assert "pause invoices" in lines[0] and "rollback to version 1" in lines[2] and f"[{INVOICE}]" in lines[2]


def test_preview_prints_the_verdict_the_payload_and_the_difference():
    defaults = load_defaults()
    deployed = compile_with(defaults, None, "defaults")
    candidate = compile_with(
        defaults,
        {"collections": [{"extends": INVOICE, "fields": [{"to": "refund_amount", "kind": "formula", "type": "number",
                                                          "formula": "abs(total) - abs(shipping_amount or 0) if type == 'Validated Return' else None"}]}]},
        "candidate",
    )  # fmt: skip
    settings = argparse.Namespace(store_ref_id="store_main", client_store_id=None, transaction_types=("Order", "Validated Return"),
                                  transaction_status="Complete", excluded_transaction_suffixes=("-D", "-GC"))  # fmt: skip
    raw = {"id": "7003", "transaction_number": "RT-7003", "customer_id": "501", "type": "Validated Return", "status": "Complete",
           "subtotal": "-40.00", "total": "-40.25", "shipping_amount": "5", "total_qty": "-1", "lines": []}  # fmt: skip
    lines = cli_mapping.preview_lines(
        deployed, candidate, destination="99minds", source="transaction", raw=raw, settings=settings,
        resolve=lambda compiled, record: cli_mapping.Resolved({"linked_customer_id": "customer_501"}),
    )  # fmt: skip
    text = "\n".join(lines)
    assert "deployed: '99minds Invoice From iPaaS' (99minds order_workflow): passes the filter" in text
    assert '"refund_amount": 40.25' in text and '"customer_id": "customer_501"' in text
    assert '-  "refund_amount": 40.25,' in text and '+  "refund_amount": 35.25,' in text
    skipped = cli_mapping.preview_lines(
        deployed, None, destination="99minds", source="transaction", raw={**raw, "transaction_number": "RT-7003-GC"},
        settings=settings, resolve=lambda c, r: cli_mapping.Resolved(),
    )  # fmt: skip
    assert any("skipped by the filter" in line for line in skipped)


def test_a_formula_cut_off_by_a_starved_host_is_named_and_neither_crashes_nor_reads_as_dead_lettered(monkeypatch, capsys):
    from ipaas_sync.mapping import expressions

    ticks = iter(range(0, 1_000_000, 5))  # every reading of the clock 5 s later: each formula runs past its 1 s budget
    monkeypatch.setattr(expressions, "_clock", lambda: next(ticks))
    deployed = compile_with(load_defaults(), None, "defaults")
    verdict, payload = cli_mapping.outcome(
        deployed[("99minds", "order_workflow")],
        deployed[("99minds", "order_workflow")].source.parse({"id": "7001", "transaction_number": "SO-7001", "type": "Order",
                                                              "status": "Complete", "total": "10", "lines": []}),
        {"linked_customer_id": "c1", "store_ref_id": "store_main"},
    )  # fmt: skip
    assert verdict.startswith("cut off (retried on the schedule, not dead-lettered): ") and "took longer than 1 s" in verdict
    assert payload == ""
    assert run("test") == 1  # the samples fail, each named, and the command ends normally
    assert "FAIL 99minds Invoice From iPaaS: completed order" in capsys.readouterr().out
