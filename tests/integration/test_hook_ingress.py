"""The real HookIngressFunction behind the local HTTP API adapter: real HTTP in, queues on moto, and the
customer handler draining them into the 99minds sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import requests

from ipaas_sync.core.models.notification import ENTITIES
from sandbox.stack import NINETYNINE_SYSTEM_ID

from .conftest import json_lines, notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"
ROOT = Path(__file__).resolve().parents[2]
SECRET = "NinetyNineMindsWebhookKeySecret"


def queued(stack, queue=Q) -> list[dict]:
    return [json.loads(m["Body"]) for m in stack.messages(queue)]


def add_customer(stack, id_, **kw):
    stack.ipaas.put(
        "customers",
        {
            "id": id_,
            "customer_number": f"C-{id_}",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email_address": f"ada{id_}@example.com",
            **kw,
        },
    )


def test_hook_to_queue_to_handler_to_99minds_once(stack):
    for id_ in ("1", "2"):
        add_customer(stack, id_)
    notes = [notification("1"), notification("2", scope="customer/updated", guid=None)]
    notes[1].pop("tracking_guid")
    first = stack.post_hook(notes, correlation_id="corr-hook-1", hook_id="h-1", attempt=1)
    assert (first.status_code, first.json()) == (202, {"accepted": 2, "id": "h-1"})
    # iPaaS.com retries the same hook request (it did not see our answer): queued again, transferred once
    again = stack.post_hook(notes, correlation_id="corr-hook-1", hook_id="h-1", attempt=2)
    assert again.status_code == 202
    assert [(b["id"], b["tracking_guid"]) for b in queued(stack)] == [
        ("1", "guid-1"),
        ("2", "corr-hook-1"),
        ("1", "guid-1"),
        ("2", "corr-hook-1"),
    ]
    stats = stack.drain()
    assert stats.errors == []
    assert sorted(o["status"] for o in stack.outcomes()) == ["created", "created", "duplicate", "duplicate"]
    assert len(stack.ninetynine.calls("POST", "/api/v1/ipaas/customers", status=200)) == 2
    assert len(stack.ninetynine.customers) == 2
    guids = {
        c.body["internal_id"]: c.body["tracking_guid"]
        for c in stack.ipaas.calls("POST", "/customers/v2/External/UpdateExternalId")
    }
    assert guids == {"1": "guid-1", "2": "corr-hook-1"}
    assert stack.messages(Q) == [] and stack.messages(DLQ) == []


def test_every_transfer_line_carries_its_own_tracking_guid_as_correlation_id(stack, log_output, capsys):
    # a hook request answered 400 first: its correlation id must not stick to the transfers that follow
    assert stack.post_hook(body='{"id": "x", "notifications": [', correlation_id="corr-rejected").status_code == 400
    for id_ in ("11", "12"):
        add_customer(stack, id_)
    assert stack.post_hook([notification("11"), notification("12")]).status_code == 202
    stack.send(Q, "{not json")
    stack.send(Q, {"scope": "customer/created", "id": "13", "tracking_guid": "guid-13"})  # no destination
    assert stack.drain().errors == []
    transfer_lines = [x for x in json_lines(log_output) if "outcome" in x]
    assert len(transfer_lines) == 4
    assert {(x["outcome"].get("record_id"), x.get("correlation_id")) for x in transfer_lines} == {
        ("11", "guid-11"),
        ("12", "guid-12"),
        (None, None),
        (None, "guid-13"),
    }
    assert all(x.get("correlation_id") != "corr-rejected" for x in json_lines(log_output) if "hook" not in x)
    # the dashboard's per-destination metric, {service, Entity, Destination}: one EMF line per invocation and
    # destination, counting its records (the two transferred ones may come in one batch or two)
    emf = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if '"Destination"' in ln]
    assert all(sorted(m["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["Destination", "Entity", "service"] for m in emf)
    sent = [(m["Entity"], m["Destination"], m["TransfersSent"]) for m in emf if "TransfersSent" in m]
    assert {(e, d) for e, d, _ in sent} == {("customer", NINETYNINE_SYSTEM_ID)}
    assert sum(v[0] if isinstance(v, list) else v for _, _, v in sent) == 2


def test_missing_or_wrong_key_is_401_and_never_reaches_a_queue(stack):
    answers = [
        stack.post_hook([notification("1")], authorization=""),
        stack.post_hook([notification("1")], key="whk-local-not-the-key-000000"),
        stack.post_hook([notification("1")], authorization=f"Basic {stack.webhook_key}"),
        stack.post_hook([notification("1")], key=stack.webhook_key + "0"),
        stack.post_hook(body="{broken", key="whk-local-not-the-key-000000"),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(401, {"message": "Unauthorized"})] * 5
    assert {r.headers["WWW-Authenticate"] for r in answers} == {'Bearer realm="ipaas-sync hooks"'}
    assert stack.messages(Q) == [] and stack.messages(DLQ) == []
    assert stack.drain().invocations == 0


def test_rotation_accepts_current_and_previous_key(make_stack):
    stack = make_stack(
        webhook_key="whk-local-new-key-000000000000000",
        subscription_overrides={SECRET: {"Webhook API Key (Previous)": "whk-local-old-key-0000000000"}},
    )
    assert stack.post_hook([notification("1")], key="whk-local-new-key-000000000000000").status_code == 202
    assert stack.post_hook([notification("2")], key="whk-local-old-key-0000000000").status_code == 202
    assert stack.post_hook([notification("3")], key="whk-local-older-key-000000000").status_code == 401
    assert [b["id"] for b in queued(stack)] == ["1", "2"]


def test_malformed_and_unroutable_are_400_naming_it_and_nothing_is_queued(stack):
    bad_scope = stack.post_hook([notification("1"), notification("2", scope="order/created")])
    assert bad_scope.status_code == 400
    assert bad_scope.json()["notification"] == 1 and "unsupported scope 'order/created'" in bad_scope.json()["message"]
    missing = stack.post_hook([notification("1"), {"scope": "customer/created", "id": "2"}])
    assert (missing.status_code, missing.json()["notification"], missing.json()["field"]) == (400, 1, "destination")
    not_json = stack.post_hook(body='{"id": "1", "notifications": [')
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["message"]
    # an unknown destination is not revealed as such: the same 401 as a wrong key (no enumeration of subscription ids)
    unknown = stack.post_hook([notification("1", destination="4242")])
    wrong = stack.post_hook([notification("1")], key="whk-someone-else-0000000000000")
    assert (unknown.status_code, unknown.json(), unknown.headers.get("WWW-Authenticate")) == (
        401,
        wrong.json(),
        wrong.headers.get("WWW-Authenticate"),
    ) and wrong.status_code == 401
    # an entity the deployment has no 99minds queue for (if any is left: the unit tests cover it either way)
    routes = json.loads(stack.deployment.function_environment("HookIngressFunction")["QUEUE_ROUTES"])
    for entity in [e for e in ENTITIES if f"{e}:99minds" not in routes][:1]:
        unroutable = stack.post_hook([notification("1", scope=f"{entity}/created")])
        assert unroutable.status_code == 400
        assert f"no queue for {entity} notifications to platform '99minds'" in unroutable.json()["message"]
    assert stack.messages(Q) == []


def test_body_limit_from_the_template_parameter_is_413(make_stack):
    stack = make_stack(parameters={"HookMaxBodyBytes": 1024})
    big = [notification(str(i)) for i in range(40)]
    answer = stack.post_hook(big)
    assert answer.status_code == 413 and "at most 1024" in answer.json()["message"]
    assert stack.post_hook(big[:3]).status_code == 202
    assert len(stack.messages(Q)) == 3


def test_only_the_template_route_is_served(stack):
    assert requests.get(stack.hooks_url, timeout=10).status_code == 404
    assert requests.post(stack.http_api.url + "/other", data="{}", timeout=10).status_code == 404
    assert stack.http_api.invocations == 0


def test_a_queue_that_cannot_take_the_messages_is_503_so_ipaas_retries(stack):
    boto3.client("sqs").delete_queue(QueueUrl=stack.queue_url(Q))
    answer = stack.post_hook([notification("1")])
    assert answer.status_code == 503 and "accepted" not in answer.json()
    assert stack.http_api.errors == []


def test_no_secret_in_a_log_line_or_a_response(stack, log_output):
    wrong = "whk-local-a-wrong-key-but-maybe-real-0000"
    answers = [
        stack.post_hook([notification("1")]),
        stack.post_hook([notification("2")], key=wrong),
        stack.post_hook(body="{", key=wrong),
        stack.post_hook(body="{"),
        stack.post_hook([notification("3", destination="77")]),
    ]
    assert [r.status_code for r in answers] == [202, 401, 401, 400, 401]
    stack.drain()
    logged = log_output.getvalue()
    assert logged.count("hook request") == 5
    for secret in (stack.webhook_key, wrong, stack.ipaas.token, stack.ninetynine.api_key):
        assert secret not in logged
        for r in answers:
            assert secret not in r.text and secret not in json.dumps(dict(r.headers))


def test_events_hook_request_json_as_sam_local_invoke_would(stack):
    event = json.loads((ROOT / "events" / "hook_request.json").read_text())
    assert event["version"] == "2.0" and event["routeKey"] == "POST /hooks"
    assert json.loads(event["body"])["notifications"][0]["destination"] == NINETYNINE_SYSTEM_ID
    event["headers"]["authorization"] = f"Bearer {stack.webhook_key}"
    reply = stack.invoke("HookIngressFunction", event)
    assert reply["statusCode"] == 202 and json.loads(reply["body"])["accepted"] == 2
    assert [(b["id"], b["tracking_guid"]) for b in queued(stack)] == [
        ("501", "7f0c7c1e-4c57-4a8e-9d43-5c1a3e0b1001"),
        ("502", "7f0c7c1e-4c57-4a8e-9d43-5c1a3e0b1001"),
    ]


def test_a_wrong_key_is_401_even_while_a_subscription_has_no_webhook_key_yet(make_stack):
    """Nobody can trip the 5xx alarm (or make iPaaS.com retry a mis-keyed hook forever) with a wrong key."""
    stack = make_stack(
        subscription_overrides={
            "StampedWebhookKeySecret": {"Webhook API Key": ""},
            "MakiniWebhookKeySecret": {"Webhook API Key": "too-short"},
        }
    )
    assert stack.post_hook([notification("1")], key="whk-wrong-key-000000000000000").status_code == 401
    assert stack.post_hook([notification("1")]).status_code == 202


def test_the_body_limit_is_the_queue_message_limit_and_answers_413(stack):
    """The template's limit and the queue's are one: a 300 kB notification is refused at once (413), never queued
    and retried as 503 forever."""
    answer = stack.post_hook([notification("1", padding="p" * 300_000)])
    assert answer.status_code == 413 and "at most 262144" in answer.json()["message"]
    assert stack.deployment.template["Parameters"]["HookMaxBodyBytes"]["MaxValue"] == 262144
    assert stack.messages(Q) == []
