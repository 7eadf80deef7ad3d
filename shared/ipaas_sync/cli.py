"""ipaas-sync: operate a deployed ipaas-sync stack.

Check each subscription's credentials before the first transfer, and inspect and replay the dead-letter
queues. AWS credentials and region come from the usual AWS settings (AWS_PROFILE, AWS_REGION, ...).
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from . import credentials, initialize, ledger, manual_sync, replay


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ipaas-sync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    credentials.register_cli(subparsers)
    replay.register_cli(subparsers)
    initialize.register_cli(subparsers)
    manual_sync.register_cli(subparsers)
    ledger.register_cli(subparsers)
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
