"""cfn-lint on template.yaml and on its aws-sam-translator output; structural promises of the template."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cfnlint.api import lint_all
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _NoManagedPolicies:
    def load(self):
        return {}


@pytest.fixture(scope="module")
def template():
    return cfn_yaml.loads(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def translated(template):
    """What `sam package` + the SAM transform produce: local code paths become S3 URIs first."""
    packaged = copy.deepcopy(template)
    for name, res in packaged["Resources"].items():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts-bucket/{name}.zip"
    return transform(packaged, {}, _NoManagedPolicies())


def _errors(matches):
    """Errors and warnings (what `cfn-lint` fails on); informational rules are advice."""
    return [f"{m.rule.id} {m.linenumber}: {m.message}" for m in matches if m.rule.id[0] in "EW"]


def test_cfn_lint_template_is_clean():
    assert _errors(lint_all(TEMPLATE.read_text())) == []


def test_cfn_lint_translated_template_is_clean(translated):
    assert _errors(lint_all(json.dumps(translated))) == []


def _actions(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Action", "NotAction"):
                yield from (value if isinstance(value, list) else [value])
            else:
                yield from _actions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _actions(item)


def test_no_wildcard_actions_anywhere(translated):
    actions = [a for a in _actions(translated) if isinstance(a, str)]
    assert actions, "expected IAM statements"
    assert [a for a in actions if "*" in a] == []


def test_queues_have_dlq_redrive_and_visibility(template):
    globals_timeout = template["Globals"]["Function"]["Timeout"]
    params = template["Parameters"]
    queues = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    sources = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    assert sources
    for name in sources:
        props = queues[name]["Properties"]
        assert props["VisibilityTimeout"] >= 6 * globals_timeout, name
        redrive = props["RedrivePolicy"]
        max_receive = redrive["maxReceiveCount"]
        if isinstance(max_receive, dict):
            assert params[max_receive["Ref"]]["MinValue"] >= 5
        else:
            assert max_receive >= 5
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues


def test_every_sqs_event_reports_batch_item_failures_with_max_concurrency(template):
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    events = [e for f in functions.values() for e in f["Properties"].get("Events", {}).values() if e["Type"] == "SQS"]
    assert events
    for e in events:
        assert e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "MaximumConcurrency" in e["Properties"]["ScalingConfig"]
        assert "BatchSize" in e["Properties"]


def test_idempotency_table_has_ttl(template):
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["KeySchema"][0]["AttributeName"] == "id"


def test_runtime_matches_local_python(template):
    import sys
    assert template["Globals"]["Function"]["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"


def test_every_subscription_secret_is_read_and_granted(template):
    secrets = sorted(k for k, v in template["Resources"].items() if v["Type"] == "AWS::SecretsManager::Secret")
    assert secrets == ["MakiniSubscriptionSecret", "NinetyNineMindsSubscriptionSecret", "StampedSubscriptionSecret"]
    joined = template["Globals"]["Function"]["Environment"]["Variables"]["SUBSCRIPTION_SECRET_ARNS"]["Fn::Join"]
    assert joined[0] == "," and sorted(ref["Ref"] for ref in joined[1]) == secrets
    # every function that transfers (has SQS events) loads every subscription: it needs every secret
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
                 and any(e["Type"] == "SQS" for e in v["Properties"].get("Events", {}).values())}
    assert functions
    for name, fn in functions.items():
        statements = [s for p in fn["Properties"]["Policies"] for s in p["Statement"]]
        granted = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
        assert sorted(r["Ref"] for r in granted[0]) == secrets, name


def test_each_destination_queue_has_its_own_dlq_alarm_concurrency_and_sqs_grants(template):
    resources = template["Resources"]
    fn = resources["CustomerTransferFunction"]["Properties"]
    events = {e["Properties"]["Queue"]["Fn::GetAtt"][0]: e["Properties"] for e in fn["Events"].values()}
    assert set(events) == {"CustomerNinetyNineMindsQueue", "CustomerStampedQueue", "CustomerMakiniQueue"}
    concurrency = {q: e["ScalingConfig"]["MaximumConcurrency"]["Ref"] for q, e in events.items()}
    assert len(set(concurrency.values())) == 3
    for param in concurrency.values():
        assert template["Parameters"][param]["MinValue"] == 2 and template["Parameters"][param]["Default"] == 2
    sqs = next(s for p in fn["Policies"] for s in p["Statement"] if s["Sid"] == "DeadLetters")["Resource"]
    granted = {r["Fn::GetAtt"][0] for r in sqs}
    alarms = {v["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for v in resources.values()
              if v["Type"] == "AWS::CloudWatch::Alarm" and v["Properties"]["Namespace"] == "AWS/SQS"}
    for queue in events:
        dlq = resources[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq == queue.replace("Queue", "DLQ") and resources[dlq]["DeletionPolicy"] == "Retain"
        assert {queue, dlq} <= granted and dlq in alarms
