"""The EMF metric lines the handlers write (what CloudWatch turns into metrics): the stack's own namespace and
service, and PartnerThrottled for a partner's 429, in a transfer function and in InitializeFunction."""

from __future__ import annotations

import json

from sandbox.local_aws import LOCAL_STACK_NAME
from sandbox.stack import NINETYNINE_SYSTEM_ID
from tests.integration.conftest import add_customer, notification


def emf_lines(out: str, metric: str) -> list[dict]:
    """The EMF lines (JSON with an `_aws` directive) that carry `metric`."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if metric in line]


def _namespaces(line: dict) -> set[str]:
    return {d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]}


def test_a_partner_429_in_a_transfer_is_counted_as_partner_throttled_in_the_stacks_namespace(stack, capsys):
    add_customer(stack, "6")
    stack.ninetynine.faults.throttle(1, retry_after=1, path="/api/v1/ipaas/customers")
    stack.send("CustomerNinetyNineMindsQueue", notification("6"))
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["created"]
    lines = emf_lines(capsys.readouterr().out, "PartnerThrottled")
    assert [line["PartnerThrottled"] for line in lines] == [[1.0]]
    assert _namespaces(lines[0]) == {f"IpaasSync/{LOCAL_STACK_NAME}"}
    assert lines[0]["service"] == LOCAL_STACK_NAME and lines[0]["Entity"] == "customer"


def test_initialize_function_publishes_the_partner_throttled_of_its_ipaas_reads(stack, capsys):
    """InitializeFunction's iPaaS.com reads count 429s like any request: its handler flushes them (log_metrics)."""
    add_customer(stack, "1000")
    stack.ipaas.faults.throttle(1, retry_after=1, path="/customers/v2/Customers")
    result = stack.invoke("InitializeFunction", {"entity": "customer", "destination": NINETYNINE_SYSTEM_ID})
    assert result["status"] == "finished" and result["enqueued"] == 1, result
    assert len(stack.ipaas.calls("GET", "/customers/v2/Customers", status=429)) == 1
    lines = emf_lines(capsys.readouterr().out, "PartnerThrottled")
    assert [line["PartnerThrottled"] for line in lines] == [[1.0]]
    assert _namespaces(lines[0]) == {f"IpaasSync/{LOCAL_STACK_NAME}"} and lines[0]["service"] == LOCAL_STACK_NAME
