"""The operator's commands agree: `ipaas-sync report` (the ledger) and `ipaas-sync dlq list` (the DLQs) count the
same failures under the same lines (one grouping function, failure_groups: the same error class names, ids taken
out, names kept); `--since` takes an age or a date in both `report` and `initialize`."""

from __future__ import annotations

from ipaas_sync.tools.cli import main
from ipaas_sync.tools.failure_groups import failure_group
from sandbox.local_aws import LOCAL_STACK_NAME
from tests.integration.conftest import add_customer, notification

QUEUE = "CustomerNinetyNineMindsQueue"


def _groups(text: str) -> set[str]:
    """The group lines (`[kind:Class] reason`) of a command's output, without their counts."""
    return {line.split(None, 1)[1] for line in text.splitlines() if line.strip().split(None, 1)[-1].startswith("[")}


def test_report_and_dlq_list_group_the_same_failures_under_the_same_lines(stack, capsys):
    add_customer(stack, "5101", email_address=None)  # a bad record: its id is in the reason
    stack.send(QUEUE, notification("5101"))
    stack.send(QUEUE, notification("5102"))  # not in iPaaS.com: HTTP 404
    stack.send(QUEUE, "{not json")  # a body that is not a message
    stack.drain()
    capsys.readouterr()
    assert main(["report", "--since", "1h"]) == 0
    report = _groups(capsys.readouterr().out)
    assert main(["dlq", "list", "--stack", LOCAL_STACK_NAME]) == 0
    listed = _groups(capsys.readouterr().out)
    assert len(report) == 3 and report == listed, (report, listed)
    assert any(g.startswith("[permanent:InvalidMessage] ") for g in report), report  # not the private _MalformedBody
    assert not any(c in " ".join(report) for c in ("5101", "5102")), report


def test_ids_are_taken_out_and_names_kept():
    group = failure_group(
        "permanent",
        "PermanentError",
        "transaction SO-2007 (7c9e6679-7425-40de-944b-e07fc1f90ae7): 99minds answered HTTP 422 after 1.5s for "
        "customer 505 (bob@example.com) on ipaas-sync-customer-99minds-dlq via /api/v2/customers/505",
        ids=["SO-2007"],
    )
    assert group == (
        "[permanent:PermanentError] transaction <id> (<id>): 99minds answered HTTP 422 after 1.5s for "
        "customer <id> (<id>) on ipaas-sync-customer-99minds-dlq via /api/v2/customers/<id>"
    )


def test_since_takes_an_age_or_a_date_in_report_and_initialize(stack, capsys):
    from datetime import UTC, datetime, timedelta

    from ipaas_sync.tools.replay import parse_moment
    from sandbox.stack import NINETYNINE_SYSTEM_ID

    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert parse_moment("24h", "--since", now) == now - timedelta(hours=24)
    assert parse_moment("2025-01-01", "--since", now) == datetime(2025, 1, 1, tzinfo=UTC)
    add_customer(stack, "5201", updated_datetime="2025-01-15T10:00:00Z")
    stack.send(QUEUE, notification("5201"))
    stack.drain()
    capsys.readouterr()
    today = datetime.now(UTC).date().isoformat()
    assert main(["report", "--since", today]) == 0
    assert f"latest outcome per record, since {today}: 1 record(s)" in capsys.readouterr().out
    assert main(["report", "--since", "1h"]) == 0
    assert "latest outcome per record, last 1h: 1 record(s)" in capsys.readouterr().out
    # initialize: the same forms (the record was updated in January 2025: more than 1 day ago)
    args = ["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--dry-run"]
    assert main([*args, "--since", "1d"]) == 0
    assert "1 outside --since/--until" in capsys.readouterr().out
    assert main([*args, "--since", "2025-01-01"]) == 0
    assert "outside --since/--until" not in capsys.readouterr().out
    assert main(["report", "--since", "yesterday"]) == 1
    assert "neither an age (30m, 24h, 7d) nor a date" in capsys.readouterr().err


def test_initialize_prompts_name_the_count(stack, capsys, monkeypatch):
    import builtins
    import sys

    from sandbox.stack import NINETYNINE_SYSTEM_ID

    for n in range(12):
        add_customer(stack, str(6000 + n))
    prompts: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(builtins, "input", lambda prompt: prompts.append(prompt) or "y")
    args = ["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--page-size", "5"]
    assert main([*args, "--limit", "5"]) == 0
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert prompts[0].startswith("enqueue 12 record(s) onto ") and prompts[0].endswith("? [y/N] "), prompts
    assert prompts[1].startswith("run ") and " enqueued 5 record(s) so far: enqueue the rest onto " in prompts[1], prompts
    assert "transaction mapping filter" not in out


def test_an_invocation_with_no_metrics_warns_of_nothing(stack):
    """Locally one invocation's flush can take another's metrics (one process, one Metrics object), and an
    InitializeFunction run without a 429 adds none: neither prints Powertools' "No application metrics" warning."""
    import warnings

    from ipaas_sync.core.observability import metrics
    from sandbox.stack import NINETYNINE_SYSTEM_ID

    with warnings.catch_warnings(record=True) as caught:
        stack.invoke("InitializeFunction", {"entity": "customer", "destination": NINETYNINE_SYSTEM_ID, "dry_run": True})
        metrics.flush_metrics()  # what a second concurrent invocation's log_metrics does locally, its metrics taken
    assert not [w for w in caught if "No application metrics" in str(w.message)], [str(w.message) for w in caught]


def test_initialize_says_what_its_pacing_wait_compares(stack, capsys, monkeypatch):
    from ipaas_sync.tools.initialize.sources import QueuePace
    from sandbox.stack import NINETYNINE_SYSTEM_ID

    add_customer(stack, "6100")

    def full_once(self, give_up):  # the queue found full once (its depth 40), then room
        self.on_wait(40, self.room)
        return True

    monkeypatch.setattr(QueuePace, "wait", full_once)
    args = ["initialize", "--entity", "customer", "--destination", NINETYNINE_SYSTEM_ID, "--yes", "--pace-ahead", "1"]
    assert main(args) == 0
    err = capsys.readouterr().err
    # the test stack's 99minds limit drains 150 customers a second: 150 in the 1 s window
    assert "the queue holds 40 record(s); with the next page it would hold more than the 150 the destination's" in err
    assert "limit drains in 1s (--pace-ahead): waiting for room" in err, err
