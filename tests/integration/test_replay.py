"""DLQ summary, show and replay (the `ipaas-sync dlq` command and DlqReplayFunction share the code)."""

from __future__ import annotations

import json

from ipaas_sync.tools import cli
from ipaas_sync.tools.replay import Filter, Replayer

from .conftest import dlq_reasons, notification

Q, DLQ = "CustomerNinetyNineMindsQueue", "CustomerNinetyNineMindsDLQ"


def _customer(stack, id_, **kw):
    stack.ipaas.put(
        "customers",
        {
            "id": id_,
            "customer_number": f"C-{id_}",
            "first_name": "A",
            "last_name": "B",
            "email_address": f"c{id_}@example.com",
            **kw,
        },
    )


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
    # the record ids are taken out of the reasons: the two missing emails count together
    assert sorted(summary["by_reason"].values()) == [1, 2]
    [email] = [r for r, n in summary["by_reason"].items() if n == 2]
    assert "missing required field 'email_address'" in email and "<id>" in email


def test_malformed_bodies_count_as_one_reason(stack):
    for text in ("{not json", "{not json either", "{broken"):
        stack.send(Q, text)
    stack.drain()
    summary = Replayer().summary(stack.queue_url(DLQ), messages=True)
    assert summary["count"] == 3 and len(summary["by_reason"]) == 1, summary["by_reason"]
    assert "<id>" in next(iter(summary["by_reason"]))  # each message id taken out
    assert all(m["original_message_id"] and m["record_id"] is None for m in summary["messages"])


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

    boto3.client("sqs").send_message(
        QueueUrl=stack.queue_url(DLQ),
        MessageBody=json.dumps(body),
        MessageAttributes={"ipaas.source_queue": {"DataType": "String", "StringValue": stack.deployment.physical[Q]["Arn"]}},
    )
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
    assert "ipaas-sync-local-customer-stamped-dlq: 0 message(s)" in out
    assert cli.main(["dlq", "list", dlq, "--messages"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split() for ln in lines if "guid-" in ln]
    assert sorted(r[2] for r in rows) == ["1", "2", "3"] and sorted(r[3] for r in rows) == ["guid-1", "guid-2", "guid-3"]
    [message] = stack.messages(DLQ)[:1]
    original = message["MessageAttributes"]["ipaas.message_id"]["StringValue"]
    # show finds a message by any of its ids, in one named DLQ or in every DLQ of the stack
    for any_id in (message["MessageId"], original, "guid-2", "3"):
        assert cli.main(["dlq", "show", any_id, "--stack", "ipaas-sync-local"]) == 0, any_id
        shown = json.loads(capsys.readouterr().out)
        assert any_id in (shown["message_id"], shown["original_message_id"], shown["tracking_guid"], shown["record_id"])
    assert cli.main(["dlq", "show", dlq, "guid-1"]) == 0
    assert json.loads(capsys.readouterr().out)["record_id"] == "1"
    assert cli.main(["dlq", "replay", dlq, "--entity", "customer", "--older-than", "1d", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["matched"] == 0
    # the dry run, as text like `dlq list`: how many would move, to which queue, and why they were parked
    assert cli.main(["dlq", "replay", dlq, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    source = stack.deployment.physical[Q]["QueueName"]
    assert out[0] == f"{dlq}: 3 of 3 message(s) would move (receive, send, delete) (dry run: nothing moved)", out
    assert out[1].split() == ["3", "->", source], out
    assert "  parked because:" in out and any("missing required field 'email_address'" in line for line in out)
    assert len(stack.messages(DLQ)) == 3
    assert cli.main(["dlq", "replay", dlq, "--destination", "1001"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{dlq}: 3 of 3 message(s) moved (receive, send, delete)" and out[1].split() == ["3", "->", source]
    assert cli.main(["dlq", "replay", dlq, "--older-than", "soon"]) == 1


def test_cli_errors_are_one_line_and_exit_1(stack, capsys):
    cases = [
        (["dlq", "list", "no-such-queue-dlq"], "no queue named 'no-such-queue-dlq'"),
        (["dlq", "list", "--stack", "no-such-stack"], "no dead-letter queue (*-dlq) whose name starts with 'no-such-stack'"),
        (["dlq", "show", "nothing-has-this-id", "--stack", "ipaas-sync-local"], "no message with id 'nothing-has-this-id'"),
        (["dlq", "replay"], "name the DLQ to replay"),
        (["dlq", "replay", "no-such-queue-dlq", "--dry-run"], "no queue named"),
    ]
    for argv, expected in cases:
        assert cli.main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, (argv, err)


def test_cli_help_speaks_to_users(capsys):
    import pytest

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "dispatcher" not in out and "register" not in out
    assert "check-credentials" in out and "dlq" in out
    description = out.split("positional arguments:")[0]  # what the text says, beside argparse's list
    for command in ("check-credentials", "initialize", "sync", "status", "report", "dlq list"):
        assert command in description, command
    assert "SUBSCRIPTION_SECRET_ARNS" in description and "LEDGER_TABLE" in description


def test_replay_lambda_takes_the_cli_verbs_and_filters_and_acts_on_every_dlq(stack):
    _fail_some(stack)
    dlq = stack.deployment.physical[DLQ]["QueueName"]
    listed = stack.invoke("DlqReplayFunction", {"command": "list", "messages": True})["queues"]
    assert len(listed) == len([q for q in stack.deployment.of_type("AWS::SQS::Queue") if q.endswith("DLQ")])
    assert {s["dlq"]: s["count"] for s in listed}[dlq] == 3
    shown = stack.invoke("DlqReplayFunction", {"command": "show", "id": "guid-3"})["messages"]
    assert [m["record_id"] for m in shown] == ["3"]
    dry = stack.invoke("DlqReplayFunction", {"command": "replay", "dry_run": True})["reports"]
    assert sum(r["matched"] for r in dry) == 3 and all(r["method"] for r in dry)
    [report] = stack.invoke("DlqReplayFunction", {"command": "replay", "queue": dlq, "reason": "phone"})["reports"]
    assert report["moved"] == 1 and report["errors"] == []
    assert stack.invoke("DlqReplayFunction", {"command": "nope"})["error"].startswith("unknown command")
    assert "no queue named" in stack.invoke("DlqReplayFunction", {"command": "list", "queue": "nope-dlq"})["error"]
