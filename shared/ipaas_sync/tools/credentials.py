"""`ipaas-sync check-credentials [--destination <iPaaS System Id>]`: prove subscriptions' credentials.

For each subscription (or the one named): validate its settings, then prove its credentials against
iPaaS.com and against its destination with read-only calls. Writes nothing to any destination or to
iPaaS.com. Prints "ok" or the reason per subscription; exit code 1 when any check fails. Settings come from
the same sources as the handlers (SUBSCRIPTION_SECRET_ARNS, SUBSCRIPTIONS_FILE or SUBSCRIPTIONS_JSON). Each
adapter (clients/*.py) has its own read-only `check_credentials()`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..core.errors import ConfigurationError, describe
from ..core.observability import redact
from ..core.settings import SECRET_SETTINGS, SubscriptionSettings, load_registry, subscription_sources
from ..destinations import PLATFORMS, by_platform, load
from ..runtime.env import TransferEnv


def _system(platform: str) -> str:
    """The partner's display name, as its adapter knows it."""
    return str(getattr(load(by_platform(platform).client), "system", platform)) if platform in PLATFORMS else platform


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
    sources = subscription_sources()
    failures = 0
    for system_id in ids:
        ok, line = _check_one(env, str(system_id), sources.get(str(system_id), "its secret"))
        failures += 0 if ok else 1
        print(redact(line), file=out)
    print(f"{len(ids) - failures} of {len(ids)} subscription(s) ok", file=out)
    return 1 if failures else 0


def _credential_settings(sub: SubscriptionSettings, ipaas: bool) -> str:
    """The settings one side's check proves: its URL and its secret settings (iPaaS.com's, or the partner's)."""
    aliases = [f.alias for f in type(sub).model_fields.values() if f.alias]
    names = [a for a in aliases if a.startswith("iPaaS API ") == ipaas and (a in SECRET_SETTINGS or a.endswith("API Url"))]
    names += [a for a in aliases if not ipaas and a.startswith("API ") and "Key" in a and a not in names]  # public keys
    return ", ".join(f"'{n}'" for n in names if not n.startswith("Webhook"))


def _check_one(env: TransferEnv, system_id: str, source: str) -> tuple[bool, str]:
    try:
        sub = env.subscription(system_id)
    except ConfigurationError as exc:
        return False, f"FAIL  {system_id}: {exc.message} (in {source})"
    label = f"{system_id} '{sub.name}' ({_system(sub.platform)})"
    results: list[str] = []
    ok = True
    for side, ipaas, check in (
        ("iPaaS.com", True, lambda: env.ipaas(sub).check_credentials()),
        (_system(sub.platform), False, lambda: env.partner(sub).check_credentials()),
    ):
        try:
            results.append(f"{side}: {check()}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason, none stops the others
            ok = False
            results.append(f"{side}: {describe(exc)} (check the settings {_credential_settings(sub, ipaas)} in {source})")
    return ok, f"{'ok   ' if ok else 'FAIL '} {label}: " + "; ".join(results)


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check-credentials", help="prove each subscription's credentials with read-only calls (writes nothing)"
    )
    check.add_argument("--destination", metavar="SYSTEM_ID", help="only the subscription with this iPaaS System Id")
    check.set_defaults(run=check_credentials)
