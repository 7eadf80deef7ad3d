"""cfn-lint on template.yaml and on its aws-sam-translator output; structural promises of the template."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cfnlint.api import lint_all
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

from ipaas_sync.destinations import ENTITY_BY_NAME, REGISTRY

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


def _statements(node, where=""):
    """(where, statement) for every IAM policy statement anywhere in a template."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list) and all(isinstance(x, dict) for x in statements):
            for st in statements:
                yield where, st
        for key, value in node.items():
            yield from _statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from _statements(item, f"{where}/{n}")


def _listed(value):
    return value if isinstance(value, list) else [value]


def test_no_wildcard_actions_anywhere(translated):
    actions = [a for a in _actions(translated) if isinstance(a, str)]
    assert actions, "expected IAM statements"
    assert [a for a in actions if "*" in a] == []
    statements = list(_statements(translated["Resources"]))
    assert statements
    # NotAction / NotResource grant everything else: never
    assert [w for w, st in statements if "NotAction" in st or "NotResource" in st] == []


def test_no_data_plane_statement_on_every_resource(translated):
    """SQS, Secrets Manager and DynamoDB permissions always name their resources: no "*" and no ARN
    pattern with a wildcard."""
    bad = []
    for where, st in _statements(translated["Resources"]):
        services = {a.split(":", 1)[0] for a in _listed(st.get("Action", [])) if isinstance(a, str)}
        if st.get("Effect") != "Allow" or not services & {"sqs", "secretsmanager", "dynamodb", "kms"}:
            continue
        for resource in _listed(st.get("Resource")):
            if resource is None or (isinstance(resource, str) and "*" in resource):
                bad.append((where, st.get("Sid"), resource))
            if isinstance(resource, dict) and "Fn::Sub" in resource and "*" in json.dumps(resource["Fn::Sub"]):
                bad.append((where, st.get("Sid"), resource))
    assert bad == []


def _role_with(*statements):
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": list(statements)}}]}}
        }
    }


@pytest.mark.parametrize(
    "check, statement",
    [
        (test_no_wildcard_actions_anywhere, {"Effect": "Allow", "Action": ["sqs:Send*"], "Resource": "arn:aws:sqs:r:1:q"}),
        (test_no_wildcard_actions_anywhere, {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:sqs:r:1:q"}),
        (test_no_wildcard_actions_anywhere, {"Effect": "Allow", "NotAction": ["iam:PassRole"], "Resource": "arn:x"}),
        (
            test_no_data_plane_statement_on_every_resource,
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"},
        ),
        (
            test_no_data_plane_statement_on_every_resource,
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [{"Fn::GetAtt": ["Q", "Arn"]}, "arn:aws:sqs:*:1:*"]},
        ),
        (
            test_no_data_plane_statement_on_every_resource,
            {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": {"Fn::Sub": "arn:aws:dynamodb:${AWS::Region}:*"}},
        ),
    ],
)
def test_the_wildcard_checks_catch_what_they_guard_against(check, statement):
    """The checks above on a template that breaks one rule (a guard that cannot fail guards nothing)."""
    ok = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:r:1:q"}
    check(_role_with(ok))
    with pytest.raises(AssertionError):
        check(_role_with(ok, statement))


# -- the hook ingress --------------------------------------------------------------------------------------
def _role_statements(translated, function):
    role = translated["Resources"][f"{function}Role"]["Properties"]
    return role, [st for p in role.get("Policies", []) for st in p["PolicyDocument"]["Statement"]]


def _routes(template) -> dict[str, str]:
    """QUEUE_ROUTES of HookIngressFunction: "<entity>:<platform>" -> the logical id of its queue."""
    import re

    text = template["Resources"]["HookIngressFunction"]["Properties"]["Environment"]["Variables"]["QUEUE_ROUTES"]
    text = text["Fn::Sub"]
    refs = re.findall(r"\$\{([^}.]+)\}", text)
    routes = json.loads(re.sub(r"\$\{([^}.]+)\}", r"\1", text))
    assert set(routes.values()) == set(refs), "each route is exactly one ${Queue} (its URL)"
    return routes


def test_ingress_routes_point_at_entity_queues_of_known_platforms(template):
    from ipaas_sync.core.models.notification import ENTITIES
    from ipaas_sync.core.settings import PLATFORMS

    routes = _routes(template)
    assert "customer:99minds" in routes
    resources = template["Resources"]
    for key, queue in routes.items():
        entity, platform = key.split(":")
        assert entity in ENTITIES and platform in PLATFORMS, key
        assert resources[queue]["Type"] == "AWS::SQS::Queue", key
        assert "RedrivePolicy" in resources[queue]["Properties"], f"{key}: {queue} is not a source queue"
        assert queue.lower().startswith(entity), f"{key} routed to {queue} (<Entity><Destination>Queue)"
    assert len(set(routes.values())) == len(routes), "one queue per route"


def test_ingress_may_send_to_its_routed_queues_only(template, translated):
    role, statements = _role_statements(translated, "HookIngressFunction")
    sqs = [st for st in statements if any(a.startswith("sqs:") for a in _listed(st["Action"]))]
    assert [_listed(st["Action"]) for st in sqs] == [["sqs:SendMessage"]]
    granted = {r["Fn::GetAtt"][0] for r in _listed(sqs[0]["Resource"])}
    env = template["Resources"]["HookIngressFunction"]["Properties"]["Environment"]["Variables"]
    assert granted == set(_routes(template).values()) | {env["FROM_99MINDS_QUEUE_URL"]["Ref"]}
    assert all(st["Effect"] == "Allow" for st in statements)
    others = {a for st in statements for a in _listed(st["Action"]) if not a.startswith("sqs:")}
    assert others == {"secretsmanager:GetSecretValue"}
    # no SQS event on the function, so no managed SQS policy either
    assert not any("SQS" in arn for arn in role.get("ManagedPolicyArns", []))


def _secrets(template, kind: str) -> set[str]:
    """Logical ids of the secrets of one kind: "Subscription" (partner credentials) or "WebhookKey"."""
    return {
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::SecretsManager::Secret" and k.endswith(f"{kind}Secret")
    }


def test_ingress_reads_the_webhook_key_secrets_and_nothing_else(template, translated):
    """The internet-facing function can read no partner credential: the webhook keys live in their own secrets."""
    _, statements = _role_statements(translated, "HookIngressFunction")
    [secrets] = [st for st in statements if "secretsmanager:GetSecretValue" in _listed(st["Action"])]
    granted = {r["Ref"] for r in _listed(secrets["Resource"])}
    env = template["Resources"]["HookIngressFunction"]["Properties"]["Environment"]["Variables"]
    configured = {r["Ref"] for r in _refs(env["WEBHOOK_KEY_SECRET_ARNS"])}
    assert granted == configured == _secrets(template, "WebhookKey") != set()
    assert "SUBSCRIPTION_SECRET_ARNS" not in env and "SUBSCRIPTION_SECRET_ARNS" not in json.dumps(template["Globals"])


def _refs(node):
    if isinstance(node, dict):
        if "Ref" in node:
            yield node
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_ingress_is_post_hooks_on_its_http_api(template):
    fn = template["Resources"]["HookIngressFunction"]["Properties"]
    event, ninetynine = fn["Events"]["Hook"], fn["Events"]["NinetyNineMindsHook"]
    assert set(fn["Events"]) == {"Hook", "NinetyNineMindsHook"}
    assert {k: ninetynine["Properties"][k] for k in ("Method", "Path", "PayloadFormatVersion", "ApiId")} == {
        "Method": "POST",
        "Path": "/hooks/99minds/{segments+}",
        "PayloadFormatVersion": "2.0",
        "ApiId": {"Ref": "HookApi"},
    }
    assert event["Type"] == "HttpApi"
    assert {k: event["Properties"][k] for k in ("Method", "Path", "PayloadFormatVersion")} == {
        "Method": "POST",
        "Path": "/hooks",
        "PayloadFormatVersion": "2.0",
    }
    assert event["Properties"]["ApiId"] == {"Ref": "HookApi"}
    api = template["Resources"]["HookApi"]["Properties"]
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] and api["DefaultRouteSettings"]["ThrottlingBurstLimit"]
    assert fn["Environment"]["Variables"]["HOOK_MAX_BODY_BYTES"] == {"Ref": "HookMaxBodyBytes"}


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


def _platform_of_secret(template, logical: str) -> str:
    return json.loads(template["Resources"][logical]["Properties"]["SecretString"])["Platform"]


def _platforms_served(template, function: str) -> set[str]:
    """The platforms whose queues feed a function (from the ingress routes: "<entity>:<platform>" -> queue)."""
    queue_platform = {queue: key.split(":")[1] for key, queue in _routes(template).items()}
    return {queue_platform[e["Queue"]["Fn::GetAtt"][0]] for e in _sqs_functions(template)[function]}


def test_each_function_reads_only_the_secrets_of_the_platforms_it_serves(template, translated):
    subscription_secrets = _secrets(template, "Subscription")
    assert len(subscription_secrets) == len(REGISTRY)
    for name in _sqs_functions(template):
        if name == "LoyaltyTransferFunction":  # fed by 99minds webhooks, not by iPaaS.com routes: its own test below
            continue
        wanted = {k for k in subscription_secrets if _platform_of_secret(template, k) in _platforms_served(template, name)}
        env = template["Resources"][name]["Properties"]["Environment"]["Variables"]["SUBSCRIPTION_SECRET_ARNS"]
        _, statements = _role_statements(translated, name)
        granted = {
            r["Ref"]
            for st in statements
            if "secretsmanager:GetSecretValue" in _listed(st["Action"])
            for r in _listed(st["Resource"])
        }
        assert {r["Ref"] for r in _refs(env)} == granted == wanted, name
    assert _platforms_served(template, "GiftCardTransferFunction") == {"99minds"}
    assert _platforms_served(template, "InvoiceTransferFunction") == {"99minds", "makini"}


def test_the_template_secret_shapes_are_the_settings_models(template):
    """One definition of each secret's JSON: the settings models the registry names (settings.secret_shape); the
    template's secrets are what they produce, the webhook keys included."""
    from ipaas_sync.core.settings import WebhookKeySettings, secret_shape
    from ipaas_sync.destinations import by_platform, load

    def webhook_model(platform):
        destination = by_platform(platform)
        return load(destination.webhook_settings) if destination.webhook_settings else WebhookKeySettings

    for kind, model_of in (
        ("Subscription", lambda p: load(by_platform(p).settings)),
        ("WebhookKey", webhook_model),
    ):
        for logical in _secrets(template, kind):
            value = json.loads(template["Resources"][logical]["Properties"]["SecretString"])
            model = model_of(value["Platform"])
            assert value == secret_shape(model, Platform=value["Platform"], Name=value["Name"]), (
                f"{logical}: run `make destinations`"
            )
            assert ("Webhook API Key" in value) == (kind == "WebhookKey"), logical
    platforms = {_platform_of_secret(template, k) for k in _secrets(template, "WebhookKey")}
    assert platforms == {_platform_of_secret(template, k) for k in _secrets(template, "Subscription")}


def test_the_loyalty_function_reads_only_the_99minds_secret_and_sends_only_to_its_queues(template, translated):
    fn = template["Resources"]["LoyaltyTransferFunction"]["Properties"]
    assert fn["Environment"]["Variables"]["SUBSCRIPTION_SECRET_ARNS"] == {
        "Fn::Join": [",", [{"Ref": "NinetyNineMindsSubscriptionSecret"}]]
    }
    _, statements = _role_statements(translated, "LoyaltyTransferFunction")
    secrets = [st for st in statements if "secretsmanager:GetSecretValue" in _listed(st["Action"])]
    assert [{r["Ref"] for r in _listed(st["Resource"])} for st in secrets] == [{"NinetyNineMindsSubscriptionSecret"}]
    sends = {
        r["Fn::GetAtt"][0] for st in statements if "sqs:SendMessage" in _listed(st["Action"]) for r in _listed(st["Resource"])
    }
    assert sends == {"FromNinetyNineMindsQueue", "FromNinetyNineMindsDLQ"}  # its own queue (deferral) and its DLQ
    alarms = [v["Properties"] for v in template["Resources"].values() if v["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(
        a.get("Namespace") == "AWS/SQS" and a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] == "FromNinetyNineMindsDLQ"
        for a in alarms
    )
    assert any(
        a.get("Namespace") == {"Fn::Sub": "IpaasSync/${AWS::StackName}"}
        and {"Name": "Entity", "Value": "loyalty"} in a["Dimensions"]
        for a in alarms
    )


def test_each_destination_queue_has_its_own_dlq_alarm_concurrency_and_sqs_grants(template):
    resources = template["Resources"]
    fn = resources["CustomerTransferFunction"]["Properties"]
    events = {e["Properties"]["Queue"]["Fn::GetAtt"][0]: e["Properties"] for e in fn["Events"].values()}
    assert set(events) == {d.queue(ENTITY_BY_NAME["customer"]) for d in REGISTRY}  # every destination takes customers
    concurrency = {q: e["ScalingConfig"]["MaximumConcurrency"]["Ref"] for q, e in events.items()}
    assert len(set(concurrency.values())) == len(events)
    for param in concurrency.values():
        assert template["Parameters"][param]["MinValue"] == 2 and template["Parameters"][param]["Default"] == 2
    granted = {
        r["Fn::GetAtt"][0]
        for sid in ("DeadLetters", "FindDeadLetterQueues", "ConsumeOwnQueues")
        for r in _listed(_statement(template, "CustomerTransferFunction", sid)["Resource"])
    }
    alarms = {
        v["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for v in resources.values()
        if v["Type"] == "AWS::CloudWatch::Alarm" and v["Properties"].get("Namespace") == "AWS/SQS"
    }
    for queue in events:
        dlq = resources[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq == queue.replace("Queue", "DLQ") and resources[dlq]["DeletionPolicy"] == "Retain"
        assert {queue, dlq} <= granted and dlq in alarms


# -- concurrency --------------------------------------------------------------------------------------------------
def _sqs_functions(template) -> dict[str, list[dict]]:
    """Function logical id -> its SQS events' properties."""
    out = {}
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        events = [e["Properties"] for e in res["Properties"].get("Events", {}).values() if e["Type"] == "SQS"]
        if events:
            out[name] = events
    return out


def _default(template, value) -> int:
    """A number in the template, or the default of the parameter it refers to."""
    if isinstance(value, dict) and "Ref" in value:
        return int(template["Parameters"][value["Ref"]]["Default"])
    return int(value)


def reserved_concurrency_problems(template) -> list[str]:
    """Each SQS-fed function reserves, by default, at least the sum of its mappings' default MaximumConcurrency, through
    a parameter whose 0 leaves it unreserved (never a reservation of 0, which would stop the function)."""
    problems = []
    for name, events in _sqs_functions(template).items():
        reserved = template["Resources"][name]["Properties"].get("ReservedConcurrentExecutions")
        if not (isinstance(reserved, dict) and "Fn::If" in reserved):
            problems.append(f"{name}: ReservedConcurrentExecutions is not !If [<condition>, !Ref <parameter>, NoValue]")
            continue
        condition, value, otherwise = reserved["Fn::If"]
        param = value.get("Ref") if isinstance(value, dict) else None
        if param not in template["Parameters"] or otherwise != {"Ref": "AWS::NoValue"}:
            problems.append(f"{name}: reserves something other than a parameter, or 0 is not 'unreserved'")
            continue
        if template["Conditions"].get(condition) != {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, "0"]}]}:
            problems.append(f"{name}: condition {condition} is not 'parameter {param} is not 0'")
        if int(template["Parameters"][param].get("MinValue", -1)) != 0:
            problems.append(f"{name}: parameter {param} must allow 0 (unreserved)")
        maxima = sum(_default(template, e["ScalingConfig"]["MaximumConcurrency"]) for e in events)
        if _default(template, value) < maxima:
            problems.append(f"{name}: reserves {_default(template, value)} by default, its mappings may run {maxima}")
    return problems


def test_reserved_concurrency_covers_the_event_source_mappings(template):
    assert reserved_concurrency_problems(template) == []
    assert set(_sqs_functions(template)) == {
        "CustomerTransferFunction",
        "InvoiceTransferFunction",
        "GiftCardTransferFunction",
        "LoyaltyTransferFunction",
    }


def test_the_reserved_concurrency_check_catches_what_it_guards_against(template):
    # a second destination's queue on a function, without raising its reservation
    broken = copy.deepcopy(template)
    events = broken["Resources"]["CustomerTransferFunction"]["Properties"]["Events"]
    events["Other"] = copy.deepcopy(events["NinetyNineMinds"])
    reservation = template["Resources"]["CustomerTransferFunction"]["Properties"]["ReservedConcurrentExecutions"]
    reserved = _default(template, reservation["Fn::If"][1])  # !If [not 0, !Ref <parameter>, NoValue]
    assert reserved_concurrency_problems(broken) == [
        f"CustomerTransferFunction: reserves {reserved} by default, its mappings may run {reserved + 2}"
    ]
    # a fixed reservation (0 would stop the function; small accounts could not deploy any other number)
    broken = copy.deepcopy(template)
    broken["Resources"]["InvoiceTransferFunction"]["Properties"]["ReservedConcurrentExecutions"] = 2
    assert len(reserved_concurrency_problems(broken)) == 1
    broken = copy.deepcopy(template)
    broken["Conditions"]["ReserveGiftCardTransfer"] = {"Fn::Equals": ["1", "1"]}
    assert len(reserved_concurrency_problems(broken)) == 1


# -- least privilege between functions and queues --------------------------------------------------------------------
def _function_statements(template, function) -> list[dict]:
    """A function's own statements: its explicit role's (Role: !GetAtt <Function>Role.Arn), else its SAM Policies."""
    props = template["Resources"][function]["Properties"]
    if "Role" in props:
        role = template["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
        return [st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"]]
    return [st for p in props["Policies"] for st in p["Statement"]]


def _statement(template, function, sid) -> dict:
    [found] = [st for st in _function_statements(template, function) if st.get("Sid") == sid]
    return found


def _dlq_of(template, queue) -> str:
    return template["Resources"][queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]


def _sqs_grants(statements) -> dict[str, set[str]]:
    """SQS action -> the logical ids of the queues it is granted on."""
    out: dict[str, set[str]] = {}
    for st in statements:
        for action in _listed(st["Action"]):
            if action.startswith("sqs:"):
                out.setdefault(action, set()).update(r["Fn::GetAtt"][0] for r in _listed(st["Resource"]))
    return out


def test_each_transfer_function_consumes_dead_letters_and_defers_on_its_own_queues_only(template, translated):
    """Receive/delete on its own source queues only (never a DLQ, never another function's); SendMessage on its own
    DLQs (dead-lettering) and its own source queues (deferral, issue 10), nothing broader; no managed SQS policy."""
    for name, events in _sqs_functions(template).items():
        queues = {e["Queue"]["Fn::GetAtt"][0] for e in events}
        dlqs = {_dlq_of(template, q) for q in queues}
        role, statements = _role_statements(translated, name)
        grants = _sqs_grants(statements)
        assert grants == {
            "sqs:ReceiveMessage": queues,
            "sqs:DeleteMessage": queues,
            "sqs:GetQueueAttributes": queues | dlqs,
            "sqs:GetQueueUrl": queues | dlqs,
            "sqs:SendMessage": queues | dlqs,
        }, name
        assert _statement(template, name, "DeferToOwnQueues")["Action"] == ["sqs:SendMessage"]
        assert {r["Fn::GetAtt"][0] for r in _statement(template, name, "DeferToOwnQueues")["Resource"]} == queues
        managed = json.dumps(role.get("ManagedPolicyArns", []))
        assert "SQS" not in managed, f"{name}: a managed SQS policy (receive/delete on every queue) is attached"


def test_no_role_anywhere_has_a_managed_sqs_policy(translated):
    roles = {k: v for k, v in translated["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert roles and [k for k, v in roles.items() if "SQS" in json.dumps(v["Properties"].get("ManagedPolicyArns"))] == []


def test_the_money_state_table_has_point_in_time_recovery(template):
    """The idempotency table keeps the gift card pending markers: what proves a reload was not applied twice."""
    props = template["Resources"]["IdempotencyTable"]["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert template["Resources"]["IdempotencyTable"]["DeletionPolicy"] == "Retain"


# -- checkov ------------------------------------------------------------------------------------------------------
CHECKOV_CONFIG = ROOT / ".checkov.yaml"


def _checkov() -> str:
    import shutil

    found = ROOT / ".venv-checkov" / "bin" / "checkov"
    path = str(found) if found.exists() else shutil.which("checkov")
    assert path, "checkov is not installed: `make checkov` installs the version pinned in pyproject.toml"
    return path


def test_checkov_is_clean_and_every_skipped_check_says_why():
    import re
    import subprocess

    skips = re.findall(r"^\s*-\s*(CKV_\w+)(.*)$", CHECKOV_CONFIG.read_text(), flags=re.M)
    assert skips and all(re.match(r"\s+#\s*\S.{10,}", reason) for _, reason in skips), skips
    result = subprocess.run(
        [_checkov(), "-f", str(TEMPLATE), "--config-file", str(CHECKOV_CONFIG), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and report["summary"]["passed"] > 0, failed


def test_the_replay_function_can_put_every_dead_letter_back_on_its_source_queue(template):
    queues = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    sources = {k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    drained = {
        r["Fn::GetAtt"][0] for r in _listed(_statement(template, "DlqReplayFunction", "ReadAndDrainDeadLetters")["Resource"])
    }
    replayed_to = {
        r["Fn::GetAtt"][0] for r in _listed(_statement(template, "DlqReplayFunction", "ReplayToSourceQueues")["Resource"])
    }
    assert drained == {_dlq_of(template, q) for q in sources}  # every DLQ, nothing else
    assert replayed_to == sources  # and back to every source queue, nothing else


def test_the_initialize_function_enqueues_onto_and_reads_the_depth_of_the_entity_queues_only(template):
    """It sends the notifications and, to pace itself (initialize.QueuePace), reads each queue's depth: on the
    destination queues and the 99minds -> iPaaS.com one, never a DLQ, and it never receives or deletes."""
    queues = {
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in v["Properties"]
    }
    grants = _sqs_grants(_function_statements(template, "InitializeFunction"))
    assert grants == {action: queues for action in ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage")}


# -- observability: dashboard, alarms, Logs Insights queries (generated by scripts/observability.py) ---------
def _observability():
    import importlib.util

    spec = importlib.util.spec_from_file_location("observability", ROOT / "scripts" / "observability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the per-destination parts (generated by scripts/destinations.py from the destination registry) ----------
def _destinations_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("destinations_script", ROOT / "scripts" / "destinations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_destination_parts_are_up_to_date():
    """template.yaml's per-destination parts are what the registry generates (a hand edit, or a registry entry
    added without `make destinations`, fails here)."""
    text = TEMPLATE.read_text()
    assert _destinations_script().apply(text) == text, "run `make destinations` and commit template.yaml"


def test_every_registry_flow_has_its_queue_dlq_event_route_and_output(template):
    """Each (entity, destination) the registry lists is wired end to end: queue and DLQ, the entity function's event
    with the destination's concurrency parameter, the ingress route (iPaaS.com entities), the replay lists, outputs."""
    from ipaas_sync.destinations import REGISTRY, TO_IPAAS

    res, outputs = template["Resources"], template["Outputs"]
    routes = _routes(template)
    replay = res["DlqReplayFunction"]["Properties"]["Environment"]["Variables"]["DEAD_LETTER_QUEUES"]
    for destination in REGISTRY:
        assert template["Parameters"][destination.concurrency_parameter]["Default"] == 2
        for entity in destination.flows():
            queue, dlq = destination.queue(entity), destination.dlq(entity)
            assert res[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
            events = res[entity.function]["Properties"]["Events"]
            assert events[destination.logical]["Properties"]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
            assert events[destination.logical]["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {
                "Ref": destination.concurrency_parameter
            }
            if entity is not TO_IPAAS:
                assert routes[f"{entity.name}:{destination.platform}"] == queue
            assert {"Ref": dlq} in _refs(replay)
            assert f"{queue}Url" in outputs and f"{dlq}Url" in outputs
            assert f"{dlq}DepthAlarm" in res


def test_generated_destination_parts_follow_the_registry():
    """The generator's parts come from the registry alone: a destination added to it appears in every list."""
    import dataclasses

    script = _destinations_script()
    extra = dataclasses.replace(script.REGISTRY[1], platform="klaviyo", logical="Klaviyo", display="Klaviyo", name="Klaviyo")
    script.REGISTRY = (*script.REGISTRY, extra)
    text = script.apply(TEMPLATE.read_text())
    for name in (
        "CustomerKlaviyoQueue:",
        "CustomerKlaviyoDLQ:",
        "KlaviyoConcurrency:",
        "KlaviyoSubscriptionSecret:",
        "KlaviyoWebhookKeySecret:",
        '"customer:klaviyo": "${CustomerKlaviyoQueue}"',
        "- !GetAtt CustomerKlaviyoDLQ.Arn",
        "CustomerKlaviyoDLQDepthAlarm:",
        "CustomerKlaviyoQueueUrl:",
        "MaximumConcurrency: !Ref KlaviyoConcurrency",
    ):
        assert name in text, name
    assert "TransactionKlaviyoQueue" not in text  # it takes customers only


def test_generated_observability_block_is_up_to_date():
    text = TEMPLATE.read_text()
    assert _observability().apply(text) == text, "run `make observability` and commit template.yaml"


def test_every_function_and_source_queue_is_alarmed_with_a_parameter_threshold(template):
    res = template["Resources"]
    functions = [n for n, r in res.items() if r["Type"] == "AWS::Serverless::Function"]
    sources = [n for n, r in res.items() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]]
    assert functions and sources
    expected = {
        f"{f}{kind}Alarm": param
        for f in functions
        for kind, param in (("Errors", "LambdaErrorsThreshold"), ("Throttles", "LambdaThrottlesThreshold"))
    }
    expected |= {f"{q}AgeAlarm": "QueueAgeThresholdSeconds" for q in sources}
    for name, param in expected.items():
        assert res[name]["Properties"]["Threshold"] == {"Ref": param}, name
        assert param in template["Parameters"]


def test_dashboard_shows_every_dlq_and_source_queue_and_is_valid_json(template):
    import re

    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    titles = " | ".join(w["properties"]["title"] for w in widgets)
    for needed in ("DLQ depth", "oldest message", "429", "Rate-limiter wait", "4xx / 5xx", "TransfersSent"):
        assert needed in titles
    queues = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    assert {q for q in queues if f"${{{q}.QueueName}}" in body} == queues


def test_logs_insights_queries_cover_every_function(template):
    res = template["Resources"]
    functions = {n for n, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    queries = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Logs::QueryDefinition"]
    assert len(queries) >= 2
    # each function's own log group (LoggingConfig, with LogRetentionDays)
    groups = {res[f]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions}
    for q in queries:
        assert {g["Ref"] for g in q["LogGroupNames"]} == groups


def test_the_replay_function_knows_every_dlq_of_the_stack(template):
    queues = template["Resources"]
    dlqs = {
        _dlq_of(template, q) for q, v in queues.items() if v["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in v["Properties"]
    }
    joined = template["Resources"]["DlqReplayFunction"]["Properties"]["Environment"]["Variables"]["DEAD_LETTER_QUEUES"]
    assert {ref["Ref"] for ref in joined["Fn::Join"][1]} == dlqs


def test_every_function_logs_to_its_own_log_group_with_the_chosen_retention(template):
    resources = template["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    groups = set()
    for name, fn in functions.items():
        ref = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = resources[ref]
        assert group["Type"] == "AWS::Logs::LogGroup", name
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        groups.add(ref)
    assert len(groups) == len(functions)  # one each


def test_tracing_is_a_parameter_and_off_by_default(template):
    assert template["Parameters"]["Tracing"]["Default"] == "PassThrough"
    function = template["Globals"]["Function"]
    assert function["Tracing"] == {"Ref": "Tracing"}
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingActive", "false", "true"]}


# -- the metrics are the stack's own: two stacks in one account and region share no series, widget or alarm ------
STACK_NAMESPACE = {"Fn::Sub": "IpaasSync/${AWS::StackName}"}


def _custom_metric_alarms(template):
    """Every alarm's custom (non AWS/...) metric: (alarm, namespace, dimensions), one per metric of a math alarm."""
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m] or [props]
        for metric in metrics:
            if not str(metric["Namespace"]).startswith("AWS/"):
                yield name, metric["Namespace"], metric["Dimensions"]


def test_the_metrics_namespace_and_service_are_the_stacks_own_in_every_function_alarm_and_widget(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == STACK_NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            own = res["Properties"].get("Environment", {}).get("Variables", {})
            assert not {"POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"} & set(own), name
    alarms = list(_custom_metric_alarms(template))
    assert {a for a, _, _ in alarms} >= {"CustomerConfigurationErrorAlarm", "GiftcardBalanceMismatchAlarm"}
    for alarm, namespace, dimensions in alarms:
        assert namespace == STACK_NAMESPACE, alarm
        assert {"Name": "service", "Value": {"Ref": "AWS::StackName"}} in dimensions, alarm
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    searches = [e for e in body.split("SEARCH(")[1:]]
    assert searches
    for search in searches:
        assert "IpaasSync/${AWS::StackName}" in search.split("MetricName")[0], search[:120]
    assert "{IpaasSync," not in body and 'Namespace=\\"IpaasSync\\"' not in body


def _dashboard_searches(template) -> dict[str, str]:
    import re

    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    return {
        w["properties"]["title"]: m[0]["expression"]
        for w in widgets
        for m in w["properties"]["metrics"]
        if isinstance(m[0], dict) and "expression" in m[0]
    }


def test_every_outcome_metric_is_plotted_once_per_destination_and_entity(template):
    """Each outcome is written per {service, Entity} and per {service, Entity, Destination}: a widget's search by
    metric name alone (the deferrals' once) plots every one twice."""
    from ipaas_sync.runtime.processing import METRIC_BY_STATUS

    searches = _dashboard_searches(template)
    for metric in set(METRIC_BY_STATUS.values()):
        found = [e for e in searches.values() if f'MetricName="{metric}"' in e]
        assert found, f"{metric} is on no widget"
        for expression in found:
            assert ",service,Entity,Destination}" in expression, expression


def test_every_emitted_metric_is_on_a_widget_and_the_unparked_records_and_ledger_failures_alarm(template):
    import re

    emitted = set()
    for path in (ROOT / "shared" / "ipaas_sync").rglob("*.py"):
        emitted |= set(re.findall(r'add_metric\(name="(\w+)"', path.read_text()))
    from ipaas_sync.runtime.processing import METRIC_BY_STATUS

    emitted |= set(METRIC_BY_STATUS.values())
    assert {"DeadLetterSendFailures", "LedgerWriteFailures", "HookNotificationsQueued", "HookEventsSkipped"} <= emitted
    plotted = set(re.findall(r'MetricName="(\w+)"', " ".join(_dashboard_searches(template).values())))
    assert emitted - plotted == set()
    resources = template["Resources"]
    from ipaas_sync.core.models.inbound import ENTITY
    from ipaas_sync.core.models.notification import ENTITIES

    for metric in ("DeadLetterSendFailures", "LedgerWriteFailures"):
        props = resources[f"{metric}Alarm"]["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        assert {s["MetricName"] for s in stats} == {metric}
        # one series per Entity value a transfer function writes (functions/*/app.py: process_batch(entity=...))
        assert sorted(d["Value"] for s in stats for d in s["Dimensions"] if d["Name"] == "Entity") == sorted([*ENTITIES, ENTITY])
        assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_function_and_the_layer_build_for_the_architecture_parameter(template):
    """One Architecture (arm64 by default: docs/deploy.md says why) for the functions and the layer's build, which
    sam build reads from the template, so a stack runs what it was built for."""
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert set(template["Parameters"]["Architecture"]["AllowedValues"]) == {"arm64", "x86_64"}
    assert template["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            assert "Architectures" not in res["Properties"], name
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]


def test_the_gift_card_apply_window_is_a_parameter_with_the_codes_default(template):
    from ipaas_sync.runtime import pending

    parameter = template["Parameters"]["GiftCardApplyWindowSeconds"]
    assert parameter["Default"] == pending.DEFAULT_APPLY_WINDOW_SECONDS
    assert parameter["MinValue"] >= template["Globals"]["Function"]["Timeout"]  # never shorter than an invocation
    env = template["Resources"]["GiftCardTransferFunction"]["Properties"]["Environment"]["Variables"]
    assert env["GIFTCARD_APPLY_WINDOW_SECONDS"] == {"Ref": "GiftCardApplyWindowSeconds"}


def test_every_queue_is_created_with_the_message_size_the_code_assumes(template):
    """The code bounds every message (a DLQ entry's attributes, the ingress's 413) by SQS_MAX_MESSAGE_BYTES; a queue
    created without MaximumMessageSize gets whatever SQS's default is at the time (1 MiB since 2025)."""
    from ipaas_sync.platform.queues import MAX_BODY_BYTES, SQS_MAX_MESSAGE_BYTES

    queues = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    assert queues
    assert {k: v["Properties"].get("MaximumMessageSize") for k, v in queues.items()} == dict.fromkeys(
        queues, SQS_MAX_MESSAGE_BYTES
    )
    assert template["Parameters"]["HookMaxBodyBytes"]["MaxValue"] == SQS_MAX_MESSAGE_BYTES
    assert MAX_BODY_BYTES < SQS_MAX_MESSAGE_BYTES
