"""Keep the local stack running for `sam local invoke`: moto, the partner sandboxes and the template's
resources on 127.0.0.1, seeded with the sample records the events/ files name.

    python -m sandbox.serve            # prints the env file path; Ctrl-C stops
    sam local invoke CustomerTransferFunction -e events/customer_created.json \\
        --env-vars .local/sam-env.json --docker-network host \\
        [--invoke-image local/lambda-python:3.11 --skip-pull-image]

The env file gives each function the same environment the template does, with AWS_ENDPOINT_URL pointing at
the moto server and the subscription secret pointing at the sandboxes.
"""
from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from .pipeline import say, seed_customers, seed_giftcards, seed_transactions
from .stack import LocalStack

AREAS = {"customer": "customers", "transaction": "transactions", "giftcard": "giftcards"}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=Path(".local/sam-env.json"))
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args(argv)
    stack = LocalStack().start()
    try:
        seed_customers(stack)
        seed_transactions(stack)
        seed_giftcards(stack)
        for server in (stack.ipaas, stack.ninetynine):
            server.faults.clear()  # the demo's injected faults are for the demo only
        seed_event_records(stack)
        env = {fn: {**stack.deployment.function_environment(fn), **stack.moto.environment(),
                    "POWERTOOLS_TRACE_DISABLED": "true"}
               for fn in stack.deployment.functions()}
        args.env_file.parent.mkdir(parents=True, exist_ok=True)
        args.env_file.write_text(json.dumps(env, indent=2))
        say(f"moto {stack.moto.url}, iPaaS.com {stack.ipaas.url}, 99minds {stack.ninetynine.url}")
        say(f"env file for `sam local invoke --env-vars`: {args.env_file}")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait(args.seconds or None)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
