"""The local stack, kept running: moto, the partner sandboxes, the template's resources and the hook ingress
on 127.0.0.1, seeded with the demo's records and the records the events/ files name.

    make serve                        # or: .venv/bin/python -m sandbox.serve; Ctrl-C stops
    make build                        # sam build, once
    scripts/invoke-local HookIngressFunction events/hook_request.json         # 202: both notifications queued
    scripts/invoke-local CustomerTransferFunction events/customer_created.json

It prints, and writes to .local/stack.json, every URL (moto, iPaaS.com, 99minds, Stamped.io, Makini, the
local hook ingress) and each subscription's webhook API key, and writes .local/sam-env.json: each function's
template environment pointed at the local stack (what scripts/invoke-local gives the container), and
.local/env.sh: everything the `ipaas-sync` CLI needs against it (`. .local/env.sh`), printed too.

An event-source poller runs too (unless --no-poller): whatever lands on a queue (a hook request through
the local ingress or the container, a replay with `ipaas-sync dlq replay`, a message sent by hand) is
transferred by the real handlers in this process, within a few seconds; their JSON log lines go to
.local/serve.log and each pass is summed up on the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import threading
from pathlib import Path

from .pipeline import say, seed_customers, seed_giftcards, seed_transactions
from .stack import LocalStack

AREAS = {"customer": "customers", "transaction": "transactions", "giftcard": "giftcards"}
POLL_EVERY_SECONDS = 2.0


def seed_event_records(stack: LocalStack) -> None:
    """The inline records of events/*.json also exist in the iPaaS.com sandbox (a return's parent order is
    fetched from there, as in production)."""
    for path in sorted(Path(__file__).resolve().parent.parent.glob("events/*.json")):
        for record in json.loads(path.read_text()).get("Records", []):
            try:
                body = json.loads(record.get("body") or "")
            except ValueError:
                continue
            if isinstance(body, dict) and isinstance(body.get("record"), dict) and body.get("scope"):
                area = AREAS.get(str(body["scope"]).split("/")[0])
                if area and body["record"].get("id") is not None:
                    stack.ipaas.put(area, body["record"])


EVENT_CUSTOMER = "customer_35b4d7776af9ac875a"  # events/loyalty_customer.json
EVENT_TRANSACTION = "transaction_a3c44bd1f3bf8b1c2f"  # events/loyalty_transaction.json, hook_request_99minds.json


def seed_loyalty_event_records(stack: LocalStack, ipaas_customer: str = "501") -> None:
    """The 99minds records the loyalty events name: a customer (linked to iPaaS.com customer `ipaas_customer`)
    with 250 points, and a manual adjustment of 25 points on its card."""
    from .stack import NINETYNINE_SYSTEM_ID

    nn = stack.ninetynine
    nn.customers[EVENT_CUSTOMER] = {
        "id": EVENT_CUSTOMER,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "customer_number": "C-501",
        "store_ref_id": "store_b81a893dc2bc6e1a5d",
    }
    card = nn.card_of(EVENT_CUSTOMER)
    card["balance"] = "250"
    nn.loyalty_transactions[EVENT_TRANSACTION] = {
        "id": EVENT_TRANSACTION,
        "transaction_amount": "25",
        "transaction_type": "adjustment",
        "customer_id": EVENT_CUSTOMER,
        "card_id": card["id"],
    }
    stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", ipaas_customer, EVENT_CUSTOMER)


def stack_description(stack: LocalStack) -> dict:
    """What a developer needs to talk to the local stack: every URL and each subscription's webhook key."""
    subscriptions = stack.subscriptions().values()
    return {
        "moto": stack.moto.url,
        "ipaas": stack.ipaas.url,
        "99minds": stack.ninetynine.url,
        "stamped": stack.stamped.url,
        "makini": stack.makini.url,
        "hooks": stack.hooks_url,
        "webhook_keys": {str(s["iPaaS System Id"]): s["Webhook API Key"] for s in subscriptions if s.get("Webhook API Key")},
        "subscriptions": {str(s["iPaaS System Id"]): s["Name"] for s in subscriptions},
    }


def poll(stack: LocalStack, stop: threading.Event) -> None:
    """Lambda's event source mappings, locally, until stopped: drain every queue, report what happened."""
    while not stop.wait(POLL_EVERY_SECONDS):
        before = len(stack.collector.outcomes)
        stats = stack.drain(max_seconds=60, halt=stop)  # a stop ends the drain too: records retrying keep it busy
        if stats.invocations:
            counts: dict[str, int] = {}
            for o in stack.collector.outcomes[before:]:
                counts[o["status"]] = counts.get(o["status"], 0) + 1
            say(
                f"poller: {stats.invocations} invocation(s), outcomes "
                + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                + " (log: .local/serve.log)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, default=Path(".local/sam-env.json"))
    parser.add_argument("--stack-file", type=Path, default=Path(".local/stack.json"))
    parser.add_argument("--log-file", type=Path, default=Path(".local/serve.log"))
    parser.add_argument("--cli-env-file", type=Path, default=Path(".local/env.sh"), help="the CLI's environment, to source")
    parser.add_argument("--no-poller", action="store_true", help="do not transfer what lands on the queues")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args(argv)
    args.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(args.log_file, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        stack = LocalStack().start()
        try:
            seed_customers(stack)
            seed_transactions(stack)
            seed_giftcards(stack)
            for server in (stack.ipaas, stack.ninetynine):
                server.faults.clear()  # the demo's injected faults are for the demo only
            seed_event_records(stack)
            seed_loyalty_event_records(stack)
            # AWS_ENDPOINT_URL (moto) is set here, for the local stack only: the template never sets it
            env = {
                fn: {**stack.deployment.function_environment(fn), **stack.moto.environment(), "POWERTOOLS_TRACE_DISABLED": "true"}
                for fn in stack.deployment.functions()
            }
            args.env_file.parent.mkdir(parents=True, exist_ok=True)
            args.env_file.write_text(json.dumps(env, indent=2))
            described = stack_description(stack)
            args.stack_file.write_text(json.dumps(described, indent=2))
            labels = {
                "moto": "AWS (moto: SQS, DynamoDB, Secrets Manager)",
                "ipaas": "iPaaS.com sandbox",
                "99minds": "99minds sandbox",
                "stamped": "Stamped.io sandbox",
                "makini": "Makini sandbox",
                "hooks": "hook ingress (POST)",
            }
            for name, label in labels.items():
                say(f"{label:<44} {described[name]}")
            for system_id, key in described["webhook_keys"].items():
                say(f"webhook API key of {described['subscriptions'][system_id]} ({system_id}): {key}")
            cli_env = stack.cli_environment()
            args.cli_env_file.write_text(
                "# written by `make serve`: the ipaas-sync CLI's environment against the local stack; source it:\n"
                f"#   . {args.cli_env_file}\n" + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in cli_env.items())
            )
            say(f"written: {args.stack_file} (the above), {args.env_file} (for scripts/invoke-local)")
            say(f"for the ipaas-sync CLI: . {args.cli_env_file}   (then e.g. .venv/bin/ipaas-sync check-credentials)")
            for name, value in cli_env.items():
                say(f"  {name}={value}")
            stop = threading.Event()
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, lambda *_: stop.set())
                signal.signal(signal.SIGTERM, lambda *_: stop.set())
            poller = None
            if not args.no_poller:
                poller = threading.Thread(target=poll, args=(stack, stop), name="poller", daemon=True)
                poller.start()
                say("poller: transferring whatever lands on a queue (--no-poller to switch off)")
            say("ready; Ctrl-C stops")
            stop.wait(args.seconds or None)
            stop.set()
            if poller is not None:
                poller.join(timeout=70)
            return 0
        finally:
            stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
