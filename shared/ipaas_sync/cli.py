"""`ipaas-sync`: operator commands. Subcommands register themselves here (a small dispatcher)."""
from __future__ import annotations

import argparse
import sys

from . import credentials, initialize, ledger, manual_sync, replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ipaas-sync", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    replay.register_cli(subparsers)
    credentials.register_cli(subparsers)
    initialize.register_cli(subparsers)
    manual_sync.register_cli(subparsers)
    ledger.register_cli(subparsers)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as exc:
        print(f"ipaas-sync: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
