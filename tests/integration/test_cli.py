"""`ipaas-sync check-credentials`: every subscription's credentials proven with read-only calls."""

from __future__ import annotations

import os
import subprocess
import sys

from ipaas_sync.tools.cli import main
from sandbox.stack import MAKINI_SYSTEM_ID, NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID


def writes(stack) -> list:
    return [r for s in stack.sandboxes() for r in s.requests if r.method != "GET"]


def test_good_credentials_everywhere(stack, capsys):
    assert main(["check-credentials"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("ok")]
    assert len(lines) == 3 and "3 of 3 subscription(s) ok" in out
    for system_id in (NINETYNINE_SYSTEM_ID, STAMPED_SYSTEM_ID, MAKINI_SYSTEM_ID):
        assert any(line.startswith(f"ok    {system_id} ") for line in lines), out
    assert "Stamped.io: keys accepted" in out and "Makini: token accepted" in out
    assert writes(stack) == []
    assert stack.stamped.calls("GET")[0].path == "/api/v2/270392/dashboard/customers"


def test_bad_credentials_are_reported_per_subscription_without_secrets(make_stack, capsys):
    stack = make_stack(
        subscription_overrides={
            "StampedSubscriptionSecret": {"API Private Key": "key-BAD-0001", "API Password": "key-BAD-0001"},
            "MakiniSubscriptionSecret": {"API Token": "makini-BAD-0002"},
        }
    )
    assert main(["check-credentials"]) == 1
    out = capsys.readouterr().out
    assert f"ok    {NINETYNINE_SYSTEM_ID} " in out
    stamped = next(line for line in out.splitlines() if line.startswith(f"FAIL  {STAMPED_SYSTEM_ID} "))
    assert "iPaaS.com: token accepted" in stamped and "Stamped.io rejected the credentials (HTTP 401)" in stamped
    makini = next(line for line in out.splitlines() if line.startswith(f"FAIL  {MAKINI_SYSTEM_ID} "))
    assert "a changed credential means reconnecting for a new token" in makini
    assert "1 of 3 subscription(s) ok" in out
    assert "key-BAD-0001" not in out and "makini-BAD-0002" not in out
    assert writes(stack) == []


def test_one_destination_and_bad_settings(make_stack, capsys):
    make_stack(subscription_overrides={"MakiniSubscriptionSecret": {"Batch Size": 500}})
    assert main(["check-credentials", "--destination", STAMPED_SYSTEM_ID]) == 0
    out = capsys.readouterr().out
    assert STAMPED_SYSTEM_ID in out and MAKINI_SYSTEM_ID not in out
    assert main(["check-credentials", "--destination", MAKINI_SYSTEM_ID]) == 1
    assert "setting 'Batch Size'" in capsys.readouterr().out
    assert main(["check-credentials", "--destination", "9999"]) == 1
    assert "no subscription is configured for destination '9999'" in capsys.readouterr().out


def test_ipaas_token_rejected(make_stack, capsys):
    make_stack(subscription_overrides={"StampedSubscriptionSecret": {"iPaaS API Token": "ipaas-BAD-3"}})
    assert main(["check-credentials", "--destination", STAMPED_SYSTEM_ID]) == 1
    out = capsys.readouterr().out
    assert "iPaaS.com: iPaaS.com rejected the credentials (HTTP 401)" in out and "Stamped.io: keys accepted" in out
    assert "ipaas-BAD-3" not in out


def test_console_entry_point_exit_code(stack):
    env = {k: v for k, v in os.environ.items()}
    done = subprocess.run(
        [sys.executable, "-m", "ipaas_sync.tools.cli", "check-credentials", "--destination", MAKINI_SYSTEM_ID],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"ok    {MAKINI_SYSTEM_ID} 'Mintsoft via Makini - Local' (Makini)")
    stack.makini.token = "rotated-token"  # the connection's token changed on Makini's side
    done = subprocess.run(
        [sys.executable, "-m", "ipaas_sync.tools.cli", "check-credentials"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "Makini rejected the token" in done.stdout


def test_a_failure_names_the_secret_and_the_settings_to_fix(make_stack, capsys):
    make_stack(
        subscription_overrides={
            "StampedSubscriptionSecret": {"API Private Key": "key-BAD-0001", "API Password": "key-BAD-0001"},
            "MakiniSubscriptionSecret": {"API Token": ""},  # a secret not filled in
        }
    )
    assert main(["check-credentials"]) == 1
    out = capsys.readouterr().out
    stamped = next(line for line in out.splitlines() if line.startswith(f"FAIL  {STAMPED_SYSTEM_ID} "))
    assert "Stamped.io rejected the credentials (HTTP 401)" in stamped
    assert "(check the settings 'API Url', 'API Private Key', 'API Password', 'API Public Key' in secret " in stamped
    assert "/subscriptions/stamped" in stamped, stamped
    makini = next(line for line in out.splitlines() if line.startswith(f"FAIL  {MAKINI_SYSTEM_ID}"))
    assert "setting 'API Token' is empty: fill it in" in makini and "item" not in makini, makini
    assert "/subscriptions/makini" in makini, makini
    assert "key-BAD-0001" not in out
