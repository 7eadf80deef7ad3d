"""ipaas-sync: operate a deployed ipaas-sync stack.

Going live:   check-credentials (prove each subscription's credentials, read-only), then initialize (enqueue
              every existing record of an entity for a destination; resumable), sync (named records).
Mappings:     mapping show | preview | test | deploy | rollback | history (a subscription's mapping collections,
              changed by data alone: docs/mappings.md)
Every day:    status (what happened to one record, from the transfer ledger), report (outcomes by destination,
              entity and status, top failure reasons), dlq list | show | replay (the dead-letter queues).
A partner outage: circuit status | close (each destination's circuit), retry-now (records waiting for a
              destination run at their next hop).
`ipaas-sync COMMAND --help` explains each. AWS credentials and region come from the usual AWS settings
(AWS_PROFILE, AWS_REGION, ...); the stack's names from its outputs or environment: SUBSCRIPTION_SECRET_ARNS,
LEDGER_TABLE, STACK_NAME (the local stack: `. .local/env.sh` after `make serve`). docs/README.md has the rest.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from . import circuits, credentials, ledger_reports, replay_cli
from . import mapping as mapping_cli
from . import sync as manual_sync
from .initialize import cli as initialize


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ipaas-sync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    credentials.register_cli(subparsers)
    replay_cli.register_cli(subparsers)
    initialize.register_cli(subparsers)
    mapping_cli.register_cli(subparsers)
    manual_sync.register_cli(subparsers)
    ledger_reports.register_cli(subparsers)
    circuits.register_cli(subparsers)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)  # every command's run() returns its exit code
        return code
    except (ValueError, LookupError, BotoCoreError, ClientError) as exc:
        print(f"ipaas-sync: {exc}", file=sys.stderr)  # one line, never a traceback
        return 1


if __name__ == "__main__":
    sys.exit(main())
