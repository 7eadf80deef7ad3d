"""The transfer ledger table and InitializeFunction in template.yaml: on-demand, TTL, PITR, least privilege."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from ipaas_sync.runtime import ledger

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
TRANSFER_FUNCTIONS = {
    "CustomerTransferFunction",
    "InvoiceTransferFunction",
    "GiftCardTransferFunction",
    "LoyaltyTransferFunction",
}


@pytest.fixture(scope="module")
def template():
    return cfn_yaml.loads(TEMPLATE.read_text())


def _statements(fn: dict, template: dict | None = None) -> list[dict]:
    """A function's statements: its SAM Policies, or those of the role it names (Role: !GetAtt <Role>.Arn)."""
    role = fn["Properties"].get("Role")
    if role and template is not None:
        policies = template["Resources"][role["Fn::GetAtt"][0]]["Properties"].get("Policies", [])
        return [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    return [s for p in fn["Properties"].get("Policies", []) for s in p.get("Statement", [])]


def _on_ledger(statement: dict) -> bool:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return any(isinstance(r, dict) and r.get("Fn::GetAtt", [None])[0] == "TransferLedgerTable" for r in resources)


def test_the_ledger_table_is_on_demand_with_ttl_and_point_in_time_recovery(template):
    table = template["Resources"]["TransferLedgerTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]
    # the 99minds -> iPaaS.com outcomes by the iPaaS.com record they wrote (ledger.IPAAS_RECORD_INDEX)
    [index] = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ledger.IPAAS_RECORD_INDEX and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert index["KeySchema"] == [{"AttributeName": "ipaas_ref", "KeyType": "HASH"}]
    assert table["DeletionPolicy"] == "Retain"
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["LEDGER_TABLE"] == {"Ref": "TransferLedgerTable"} and env["LEDGER_TTL_DAYS"] == {"Ref": "LedgerTtlDays"}
    assert template["Parameters"]["LedgerTtlDays"]["Default"] == 90


def test_only_the_functions_that_write_it_may_write_the_ledger(template):
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    writers = {}
    for name, fn in functions.items():
        for st in _statements(fn, template):
            if _on_ledger(st):
                writers.setdefault(name, set()).update(st["Action"])
    assert writers == {
        **{f: {"dynamodb:PutItem", "dynamodb:UpdateItem"} for f in TRANSFER_FUNCTIONS},
        "InitializeFunction": {"dynamodb:GetItem", "dynamodb:PutItem"},
    }


def test_the_initialize_function_continues_only_itself_and_sends_only_to_entity_queues(template):
    fn = template["Resources"]["InitializeFunction"]["Properties"]
    assert fn["Timeout"] == 900 and fn["RecursiveLoop"] == "Allow"
    assert fn["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert fn["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-initialize"}
    statements = {s["Sid"]: s for s in _statements(template["Resources"]["InitializeFunction"])}
    assert statements["ContinueItself"]["Action"] == ["lambda:InvokeFunction"]
    assert statements["ContinueItself"]["Resource"]["Fn::Sub"].endswith(":function:${AWS::StackName}-initialize")
    queues = {r["Fn::GetAtt"][0] for r in statements["EnqueueOntoEntityQueues"]["Resource"]}
    # every entity queue: those fed from iPaaS.com, and the 99minds -> iPaaS.com one (initialize --source 99minds);
    # never a DLQ
    entity_queues = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue" and not k.endswith("DLQ")}
    assert "FromNinetyNineMindsQueue" in entity_queues and queues == entity_queues
    secrets = statements["SubscriptionSettings"]["Resource"]
    assert {"Ref": "NinetyNineMindsSubscriptionSecret"} in secrets  # the 99minds source reads 99minds with its key
    assert fn["Environment"]["Variables"]["STACK_NAME"] == {"Ref": "AWS::StackName"}
