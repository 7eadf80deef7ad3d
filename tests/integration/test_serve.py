"""The local stack kept running (`python -m sandbox.serve`): what it prints and writes, a function run with the
environment it writes for scripts/invoke-local (in a fresh process, as the container would), and its poller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.invoke_event import with_local_key

ROOT = Path(__file__).resolve().parents[2]

INVOKE = """
import json, sys
from sandbox.local_aws import LambdaContext
sys.path[:0] = ["functions/%s"]
from app import lambda_handler
print(json.dumps(lambda_handler(json.loads(sys.stdin.read()), LambdaContext("%s", 30))))
"""
FUNCTION_DIRS = {"HookIngressFunction": "hook_ingress", "CustomerTransferFunction": "customer_transfer"}


def invoke(files, function: str, event: dict) -> subprocess.CompletedProcess:
    """`function` in a process of its own with the environment scripts/invoke-local gives the container."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SUBSCRIPTION", "QUEUE_ROUTES", "POWERTOOLS"))}
    env.update(json.loads(files["env"].read_text())[function])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    code = INVOKE % (FUNCTION_DIRS[function], function)
    return subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(event), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def outcomes(done: subprocess.CompletedProcess) -> list[dict]:
    lines = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    return [ln["outcome"] for ln in lines if "outcome" in ln]


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path):
    files = {
        "env": tmp_path / "sam-env.json",
        "stack": tmp_path / "stack.json",
        "log": tmp_path / "serve.log",
        "cli": tmp_path / "env.sh",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.serve",
            "--seconds",
            "90",
            "--env-file",
            str(files["env"]),
            "--stack-file",
            str(files["stack"]),
            "--log-file",
            str(files["log"]),
            "--cli-env-file",
            str(files["cli"]),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(lambda: all(files[f].exists() for f in ("stack", "env", "cli")), 60, "the local stack's files")
        yield proc, files
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=90)
        files["out"] = out


def test_serve_writes_urls_and_keys_and_the_hook_event_is_accepted_then_transferred(served):
    proc, files = served
    described = json.loads(files["stack"].read_text())
    for name in ("moto", "ipaas", "99minds", "stamped", "makini", "hooks"):
        assert described[name].startswith("http://127.0.0.1:"), name
    assert set(described["webhook_keys"]) >= {"1001", "2001", "3001"}
    # the customer events answer what docs/local-development.md's table says they answer under `make serve`
    for name, statuses in (
        ("customer_created.json", ["updated"]),  # Ada (501) is already in 99minds: the loyalty events' customer
        ("customer_updated.json", ["updated"]),
        ("customer_malformed.json", ["dead-lettered"] * 3),
    ):
        done = invoke(files, "CustomerTransferFunction", json.loads((ROOT / "events" / name).read_text()))
        assert [o["status"] for o in outcomes(done)] == statuses, (name, done.stdout[-2000:], done.stderr[-2000:])
    event, destination = with_local_key(json.loads((ROOT / "events" / "hook_request.json").read_text()), described)
    assert destination == "1001"
    done = invoke(files, "HookIngressFunction", event)
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["statusCode"] == 202, (reply, done.stderr[-2000:])
    assert json.loads(reply["body"])["accepted"] == 2
    # its metrics are the stack's own (template.yaml: namespace IpaasSync/<stack>, service <stack>), as in AWS
    emf = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{") and '"_aws"' in ln]
    assert [line["HookRequests"] for line in emf] == [[1.0]], done.stdout[-2000:]
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IpaasSync/ipaas-sync-local"
    assert emf[0]["service"] == "ipaas-sync-local"

    # the poller transfers what was queued, with the real handler, in the serve process
    def transferred():
        lines = [json.loads(ln) for ln in files["log"].read_text().splitlines() if ln.startswith("{")]
        return {o["outcome"]["record_id"] for o in lines if "outcome" in o and o["outcome"].get("record_id")} >= {"501", "502"}

    _wait_for(transferred, 60, "the poller to transfer records 501 and 502")


def test_the_cli_environment_file_is_all_the_cli_needs(served):
    """Sourced in a shell with no AWS or ipaas settings of its own, every CLI command reaches the local stack."""
    _, files = served
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SUBSCRIPTION", "LEDGER", "STACK", "QUEUE_ROUTES"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    cli = f"{sys.executable} -m ipaas_sync.tools.cli"
    for command, expected in (
        ("check-credentials", "ok"),
        ('dlq list --stack "$STACK_NAME"', "ipaas-sync-local-customer-99minds-dlq: "),
        ("report --since 1h", "latest outcome per record, last 1h"),
        ("status --entity customer --id 501", "customer 501"),
        ("initialize --entity customer --destination 1001 --dry-run", "customer"),
    ):
        done = subprocess.run(
            ["bash", "-c", f". {files['cli']} && {cli} {command}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert expected in done.stdout, (command, done.stdout[-1500:], done.stderr[-1500:])
