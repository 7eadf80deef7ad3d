"""DLQ summary, show and replay (the `ipaas-sync dlq` command and DlqReplayFunction share the code)."""
from __future__ import annotations

import json

from ipaas_sync import cli
from ipaas_sync.replay import Filter, Replayer

from .conftest import dlq_reasons, notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"


def _customer(stack, id_, **kw):
    stack.ipaas.put("customers", {"id": id_, "customer_number": f"C-{id_}", "first_name": "A", "last_name": "B",
                                  "email_address": f"c{id_}@example.com", **kw})


def _fail_some(stack):
    _customer(stack, "1", email_address=None)
    _customer(stack, "2", email_address=None)
    _customer(stack, "3", phone_number="no phone")
    for i in ("1", "2", "3"):
        stack.send(Q, notification(i))
    stack.drain()
    assert len(stack.messages(DLQ)) == 3


def test_summary_counts_by_reason(stack):
    _fail_some(stack)
    summary = Replayer().summary(stack.queue_url(DLQ))
    assert summary["count"] == 3 and summary["by_entity"] == {"customer": 3}
    assert sorted(summary["by_reason"].values()) == [1, 1, 1]
    assert any("missing required field 'email_address'" in r for r in summary["by_reason"])


def test_replay_fixed_records_transfers_them_and_keeps_history(stack):
    _fail_some(stack)
    _customer(stack, "1")  # fixed in iPaaS.com
    _customer(stack, "2")
    _customer(stack, "3")
    report = Replayer().replay(stack.queue_url(DLQ), Filter(reason="email_address"))
    assert (report.matched, report.moved, report.method) == (2, 2, "receive-send-delete")
    assert len(stack.messages(DLQ)) == 1  # the phone failure was not selected
    stack.drain()
    assert sorted(o["record_id"] for o in stack.outcomes("created")) == ["1", "2"]


def test_history_survives_a_replay_that_fails_again(stack):
    _customer(stack, "4", email_address=None)
    stack.send(Q, notification("4"))
    stack.drain()
    [first] = dlq_reasons(stack, DLQ)
    Replayer().replay(stack.queue_url(DLQ))
    stack.drain()
    [again] = dlq_reasons(stack, DLQ)
    assert again["ipaas.attempts"] == "2" and again["body"] == first["body"]
    assert again["ipaas.first_failed_at"] == first["ipaas.first_failed_at"]
    assert again["ipaas.first_reason"] == first["ipaas.reason"]


def test_dry_run_moves_nothing(stack):
    _fail_some(stack)
    report = Replayer().replay(stack.queue_url(DLQ), dry_run=True)
    assert (report.matched, report.moved) == (3, 0)
    assert len(stack.messages(DLQ)) == 3


def test_replaying_a_message_that_had_succeeded_is_harmless(stack):
    _customer(stack, "5")
    body = notification("5")
    stack.send(Q, body)
    stack.drain()
    # an operator puts an already transferred message on the DLQ and replays it
    import boto3
    boto3.client("sqs").send_message(QueueUrl=stack.queue_url(DLQ), MessageBody=json.dumps(body), MessageAttributes={
        "ipaas.source_queue": {"DataType": "String", "StringValue": stack.deployment.physical[Q]["Arn"]}})
    report = Replayer().replay(stack.queue_url(DLQ))
    assert report.moved == 1 and "duplicate" in report.as_dict()["note"]
    stack.drain()
    assert [o["status"] for o in stack.outcomes()] == ["created", "duplicate"]
    assert len(stack.ninetynine.calls("POST", "/api/v1/ipaas/customers")) == 1


def test_cli_list_show_and_replay(stack, capsys):
    _fail_some(stack)
    dlq = stack.deployment.physical[DLQ]["QueueName"]
    assert cli.main(["dlq", "list", "--stack", "ipaas-sync-local"]) == 0
    out = capsys.readouterr().out
    assert f"{dlq}: 3 message(s)" in out and "missing required field 'email_address'" in out
    message_id = stack.messages(DLQ)[0]["MessageId"]
    assert cli.main(["dlq", "show", dlq, message_id]) == 0
    assert json.loads(capsys.readouterr().out)["message_id"] == message_id
    assert cli.main(["dlq", "replay", dlq, "--entity", "customer", "--older-than", "1d", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["matched"] == 0
    assert cli.main(["dlq", "replay", dlq, "--destination", "1001"]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 3
    assert cli.main(["dlq", "replay", dlq, "--older-than", "soon"]) == 2


def test_replay_lambda(stack):
    _fail_some(stack)
    dlq = stack.deployment.physical[DLQ]["QueueName"]
    assert stack.invoke("DlqReplayFunction", {"action": "summary", "dlq": dlq})["count"] == 3
    report = stack.invoke("DlqReplayFunction", {"action": "replay", "dlq": dlq, "filter": {"reason": "phone"},
                                                "dry_run": False})
    assert report["moved"] == 1 and report["errors"] == []
    assert stack.invoke("DlqReplayFunction", {"action": "nope", "dlq": dlq})["error"].startswith("unknown action")
