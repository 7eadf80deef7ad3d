"""`ipaas-sync circuit status | close` and `retry-now` (tools/circuits.py) on moto."""

from __future__ import annotations

import argparse
import time

import boto3
import pytest
from moto import mock_aws

from ipaas_sync.platform.circuit import CircuitConfig, CircuitTable, CircuitView, on_failure
from ipaas_sync.tools import circuits
from tests.conftest import create_throttle_table

KEY = "99minds:api.99minds.test"


def run(argv: list[str]) -> int:
    top = argparse.ArgumentParser(prog="ipaas-sync")
    circuits.register_cli(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    return int(args.run(args))


@pytest.fixture
def table(monkeypatch):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_throttle_table(client, *({"pk": {"S": key}, "tat": {"N": "1"}} for key in (KEY, "stamped:stamped.test")))
        monkeypatch.setenv("THROTTLE_TABLE", "throttle")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield CircuitTable("throttle", client=client)


def _open(table: CircuitTable) -> None:
    config = CircuitConfig(threshold=1, probe_interval=600)
    on_failure(CircuitView(), time.time(), config, lambda u: table.write(KEY, u))


def test_status_names_an_open_circuit_and_what_it_waits_for(table, capsys):
    _open(table)
    assert run(["circuit", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{KEY}: open since ") and "waiting for 99minds to recover, next probe at" in out[0]
    assert out[1] == "stamped:stamped.test: closed"


def test_close_by_platform_releases_the_waiting_records(table, capsys):
    _open(table)
    before = time.time()
    assert run(["circuit", "close", "99minds"]) == 0
    assert "closed; records waiting for 99minds run at their next hop" in capsys.readouterr().out
    view = table.view(KEY)
    assert view.state(time.time()) == "closed" and view.released_at >= before
    assert table.view("stamped:stamped.test").released_at == 0  # another destination is left alone


def test_retry_now_releases_even_a_closed_circuit(table, capsys):
    before = time.time()
    assert run(["retry-now", KEY]) == 0
    assert "was closed; records waiting for 99minds run at their next hop" in capsys.readouterr().out
    assert table.view(KEY).released_at >= before


def test_an_unknown_destination_is_named(table):
    with pytest.raises(LookupError, match="no circuit for 'mintsoft'"):
        run(["circuit", "close", "mintsoft"])


def test_no_table_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("THROTTLE_TABLE", raising=False)
    with pytest.raises(ValueError, match="THROTTLE_TABLE"):
        run(["circuit", "status"])
