"""Operator commands: `ipaas-sync <command>` (or `python -m ipaas_sync.cli <command>`).

    check-credentials [--destination <iPaaS System Id>]
        For each subscription (or the one named), validate its settings and prove its credentials against
        iPaaS.com and against its destination with read-only calls. Writes nothing to any destination or to
        iPaaS.com. Prints "ok" or the reason per subscription; exit code 1 when any check fails.

Settings come from the same sources as the handlers (SUBSCRIPTION_SECRET_ARNS, SUBSCRIPTIONS_FILE or
SUBSCRIPTIONS_JSON; see settings.py). A small dispatcher: each command is one function registered in
COMMANDS with its arguments.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from .errors import ConfigurationError, describe
from .observability import redact
from .settings import load_registry
from .transfer.env import PARTNER_CLIENTS, TransferEnv


def _system(platform: str) -> str:
    """The partner's display name, as its adapter knows it."""
    return getattr(PARTNER_CLIENTS.get(platform), "system", platform)


def check_credentials(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        registry = load_registry()
    except ConfigurationError as exc:
        print(f"FAIL  settings: {redact(exc.message)}", file=out)
        return 1
    env = TransferEnv(registry_loader=lambda: registry)
    ids = [args.destination] if args.destination else registry.system_ids()
    if not args.destination:
        for name in registry.unassigned():
            print(f"skip  subscription '{name}': no iPaaS System Id (its settings are not filled in)", file=out)
    if not ids:
        print("FAIL  no subscription has an iPaaS System Id", file=out)
        return 1
    failures = 0
    for system_id in ids:
        ok, line = _check_one(env, str(system_id))
        failures += 0 if ok else 1
        print(redact(line), file=out)
    print(f"{len(ids) - failures} of {len(ids)} subscription(s) ok", file=out)
    return 1 if failures else 0


def _check_one(env: TransferEnv, system_id: str) -> tuple[bool, str]:
    try:
        sub = env.subscription(system_id)
    except ConfigurationError as exc:
        return False, f"FAIL  {system_id}: {exc.message}"
    label = f"{system_id} '{sub.name}' ({_system(sub.platform)})"
    results: list[str] = []
    ok = True
    for side, check in (("iPaaS.com", lambda: env.ipaas(sub).check_credentials()),
                        (_system(sub.platform), lambda: env.partner(sub).check_credentials())):
        try:
            results.append(f"{side}: {check()}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason, none stops the others
            ok = False
            results.append(f"{side}: {describe(exc)}")
    return ok, f"{'ok   ' if ok else 'FAIL '} {label}: " + "; ".join(results)


# command name -> (help, add its arguments, run it)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "check-credentials": (
        "prove each subscription's credentials with read-only calls (writes nothing)",
        lambda p: p.add_argument("--destination", metavar="SYSTEM_ID",
                                 help="only the subscription with this iPaaS System Id"),
        check_credentials,
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ipaas-sync", description="ipaas-sync operator commands")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
