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
