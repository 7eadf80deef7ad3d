"""`ipaas-sync mapping ...`: a subscription's mapping collections, changed by data alone (docs/mappings.md).

    mapping show     --destination SYS [--collection FILE]        the collections in effect (defaults + override)
    mapping preview  --destination SYS --entity E --id ID [--collection FILE]
                     reads the record from iPaaS.com; prints each collection's filter verdict and the exact payload,
                     and with a candidate FILE the difference from the deployed one. Writes nothing anywhere.
    mapping test     [--destination SYS] [--collection FILE]      runs the collections' own sample records
    mapping deploy   --destination SYS --file FILE [--note TEXT]  validates, then stores the override (a new version)
    mapping rollback --destination SYS [--to-version N]           re-deploys an earlier version (a new version;
                                                                  before the first: the defaults)
    mapping history  --destination SYS                            every kept version: when, who, what

A FILE is an override ({"collections": [...]}) or one collection or one change ({"extends": "<name>", ...}).
The overrides are SSM parameters `<prefix>/mappings/<platform>/<SYS>` (the platform: that of the collections an
override changes); the prefix is --prefix, else MAPPING_PARAMETER_PREFIX, else "/" + STACK_NAME (the stack's name).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError, PermanentError, Skip
from ..mapping.collection import load_defaults
from ..mapping.evaluate import MappingFormulaCutOff, evaluate, settings_inputs
from ..mapping.overrides import OverrideStore, compile_with, parse_document
from ..mapping.samples import run_samples
from ..mapping.validate import CompiledCollection

ENTITIES = ("customer", "transaction", "giftcard")


@dataclass
class Resolved:
    """What a preview gives a collection besides the record and the settings: the linked values the transfer would
    look up (inputs, lookup tables), each read without writing, or a placeholder `<...>` naming the link that does
    not exist yet; `notes` say which is which (printed with the payload)."""

    inputs: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


Resolver = Callable[[CompiledCollection, Any], Resolved]
PLACEHOLDER_NOTE = "a value shown as <...> is a placeholder for a link that does not exist yet (the transfer would wait for it)"


def read_candidate(path: str) -> Any:
    """A candidate file as an override document."""
    document = parse_document(Path(path).read_text(encoding="utf-8"), path)
    if isinstance(document, dict) and "collections" in document:
        return document
    return {"collections": [document]}


def prefix_of(args: argparse.Namespace) -> str:
    prefix = (
        args.prefix
        or os.environ.get("MAPPING_PARAMETER_PREFIX")
        or ("/" + os.environ["STACK_NAME"] if os.environ.get("STACK_NAME") else "")
    )
    if not prefix:
        raise ValueError("no parameter prefix: pass --prefix or --stack, or set MAPPING_PARAMETER_PREFIX or STACK_NAME")
    return prefix


def store_of(args: argparse.Namespace) -> OverrideStore:
    import boto3

    return OverrideStore(boto3.client("ssm"), prefix_of(args), load_defaults())


def outcome(
    compiled: CompiledCollection, record: Any, inputs: dict[str, Any], tables: dict[str, Any] | None = None
) -> tuple[str, str]:
    """(the verdict line, the payload as sent: JSON in the order it goes on the wire)."""
    try:
        payload = evaluate(compiled, record, inputs, tables=tables or None)
    except Skip as skip:
        return f"skipped by the filter: {skip.reason}", ""
    except PermanentError as exc:  # the record would be dead-lettered with this reason
        return f"rejected (dead-lettered): {exc}", ""
    except MappingFormulaCutOff as exc:  # this host was starved of CPU: the transfer would retry the record
        return f"cut off (retried on the schedule, not dead-lettered): {exc}", ""
    return "passes the filter", json.dumps(payload, indent=2, ensure_ascii=False)


def preview_lines(
    deployed: dict[tuple[str, str], CompiledCollection],
    candidate: dict[tuple[str, str], CompiledCollection] | None,
    *,
    destination: str,
    source: str,
    raw: dict[str, Any],
    settings: Any,
    resolve: Resolver,
) -> list[str]:
    """What `mapping preview` prints: per collection of this destination reading this kind of record, the verdict and
    the payload, and with a candidate the candidate's and a unified diff of the two payloads."""
    lines: list[str] = []
    keys = sorted(
        {k for c in (deployed, candidate or {}) for k, v in c.items() if k[0] == destination and v.source.name == source}
    )
    if not keys:
        return [f"no enabled collection of {destination} maps a {source}"]
    for key in keys:
        results = []
        for label, compiled_set in (("deployed", deployed), ("candidate", candidate)):
            if compiled_set is None:
                continue
            compiled = compiled_set.get(key)
            if compiled is None:
                lines.append(f"{label}: {destination} {key[1]}: no enabled collection (disabled)")
                results.append("")
                continue
            record = compiled.source.parse(raw)
            resolved = resolve(compiled, record)
            inputs = {**settings_inputs(compiled, settings), **resolved.inputs}
            verdict, payload = outcome(compiled, record, inputs, resolved.tables)
            lines.append(f"{label}: '{compiled.name}' ({destination} {key[1]}): {verdict}")
            lines.extend(f"  linked: {note}" for note in resolved.notes)
            lines.extend("  " + line for line in payload.splitlines())
            results.append(payload)
        if len(results) == 2:
            diff = list(
                difflib.unified_diff(results[0].splitlines(), results[1].splitlines(), "deployed", "candidate", lineterm="")
            )
            lines.append("difference: " + ("none" if not diff else ""))
            lines.extend("  " + line for line in diff)
    return lines


class LinkReader:
    """The linked values a transfer looks up, read without writing anything: the iPaaS.com links (LookupExternal),
    a return's original order (its parent's number) and, for a Makini sales order, its lines' products (by SKU).
    Where a link does not exist yet, a placeholder naming it (the transfer would park the record until it does).
    The transfers' own lookups can write (Makini links a customer it finds by number); this only reads."""

    def __init__(self, sub: Any, ipaas: Any, partner: Callable[[], Any]):
        self.sub, self.ipaas, self.partner = sub, ipaas, partner

    def __call__(self, compiled: CompiledCollection, record: Any) -> Resolved:
        from ..ipaas.client import TABLE_CUSTOMER

        out = Resolved()
        wanted = compiled.collection.inputs
        for name in ("linked_customer_id", "linked_customer_key"):
            customer = getattr(record, "customer_id", None)
            if name not in wanted or not customer:
                continue
            found = self.ipaas.lookup_external("customer", str(customer), TABLE_CUSTOMER)
            link = f"iPaaS.com customer {customer}'s {self.sub.platform} link"
            out.inputs[name] = found or f"<{name}: {link} does not exist yet>"
            out.notes.append(f"{name} = {found} ({link})" if found else f"{name}: {link} does not exist yet (placeholder)")
        parent = getattr(record, "transaction_parent_id", None)
        if "original_order_id" in wanted and parent and str(getattr(record, "type", "")).lower() == "validated return":
            number = str(self.ipaas.get_record("transaction", str(parent)).get("transaction_number") or "").strip()
            out.inputs["original_order_id"] = number or f"<original_order_id: transaction {parent} has no number>"
            out.notes.append(f"original_order_id = {number or '(none)'} (parent transaction {parent})")
        if "products" in compiled.collection.lookups:
            products: dict[str, str] = {}
            for line in getattr(record, "lines", None) or []:
                sku = str(line.sku or "").strip()
                if sku and sku not in products:
                    found_product = self.partner().find_product(sku, what=f"preview SKU {sku}")
                    key = str((found_product or {}).get("key") or "")
                    products[sku] = key or f"<no Makini product with SKU {sku} yet>"
                    out.notes.append(f"product {sku} = {key}" if key else f"product {sku}: not in Makini yet (placeholder)")
            out.tables["products"] = products
        if any(str(v).startswith("<") for v in [*out.inputs.values(), *out.tables.get("products", {}).values()]):
            out.notes.append(PLACEHOLDER_NOTE)
        return out


# -- commands --------------------------------------------------------------------------------------------------
def _deployed_override(args: argparse.Namespace) -> Any:
    found = store_of(args).current(args.destination)
    return found.document if found else None


def run_show(args: argparse.Namespace) -> int:
    defaults = load_defaults()
    override = read_candidate(args.collection) if args.collection else _deployed_override(args)
    from ..mapping.collection import apply_overrides

    for collection in apply_overrides(defaults, override, args.collection or f"subscription {args.destination}"):
        print(json.dumps(collection.model_dump(exclude={"tests"}, exclude_defaults=True), indent=2, ensure_ascii=False))
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from ..runtime.env import TransferEnv

    env = TransferEnv()
    sub = env.subscription(args.destination)
    defaults = load_defaults()
    where = f"subscription {args.destination}"
    deployed = compile_with(defaults, _deployed_override(args), where)
    candidate = compile_with(defaults, read_candidate(args.collection), args.collection) if args.collection else None
    ipaas = env.ipaas(sub)
    raw = ipaas.get_record(args.entity, args.id)
    print(f"{args.entity} {args.id} for subscription {args.destination} ({sub.name}, {sub.platform}); nothing is written")
    resolve = LinkReader(sub, ipaas, lambda: env.partner(sub))
    for line in preview_lines(
        deployed, candidate, destination=sub.platform, source=args.entity, raw=raw, settings=sub, resolve=resolve
    ):
        print(line)
    return 0


def run_test(args: argparse.Namespace) -> int:
    defaults = load_defaults()
    if args.collection:
        override = read_candidate(args.collection)
    elif args.destination:
        override = _deployed_override(args)
    else:
        override = None
    compiled = compile_with(defaults, override, args.collection or f"subscription {args.destination or '(defaults)'}")
    failed = 0
    for collection in compiled.values():
        for result in run_samples(collection):
            failed += not result.ok
            print(
                f"{'ok  ' if result.ok else 'FAIL'} {result.collection}: {result.name}"
                + (f"\n     {result.detail}" if result.detail else "")
            )
    print(f"{failed} failed" if failed else "all passed")
    return 1 if failed else 0


def run_deploy(args: argparse.Namespace) -> int:
    version = store_of(args).deploy(args.destination, read_candidate(args.file), args.note or f"deploy {args.file}")
    print(f"subscription {args.destination}: mapping override version {version} deployed (in effect within a minute)")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    restored, version = store_of(args).rollback(args.destination, args.to_version)
    what = f"version {restored}" if restored else "the default collections (no change)"
    print(f"subscription {args.destination}: {what} restored as version {version} (in effect within a minute)")
    return 0


def run_history(args: argparse.Namespace) -> int:
    versions = store_of(args).history(args.destination)
    if not versions:
        print(f"subscription {args.destination}: no mapping override (the default collections apply)")
    for v in versions:
        changed = ", ".join(str(c.get("extends") or c.get("name")) for c in v.document.get("collections", []))
        when = v.modified.isoformat(timespec="seconds") if v.modified else "?"
        print(f"version {v.version}  {when}  {v.user or '-'}  {v.description}  [{changed or 'no changes'}]")
    return 0


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ConfigurationError as exc:  # an invalid collection or override: the reason, one line, exit 1
            print(f"ipaas-sync mapping: {exc}", file=sys.stderr)
            return 1

    return call


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    top = subparsers.add_parser("mapping", help="mapping collections: show, preview, test, deploy, rollback, history")
    commands = top.add_subparsers(dest="mapping_command", required=True, metavar="ACTION")

    def add(
        name: str, help_: str, run: Callable[[argparse.Namespace], int], *, destination: bool | None
    ) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_)
        if destination is not None:
            p.add_argument("--destination", metavar="SYS", required=destination, help="the subscription's iPaaS System Id")
        p.add_argument("--prefix", help="the overrides' parameter prefix (default MAPPING_PARAMETER_PREFIX, else /STACK_NAME)")
        p.set_defaults(run=_guarded(run))
        return p

    p = add("show", "print the collections in effect for a subscription", run_show, destination=True)
    p.add_argument("--collection", metavar="FILE", help="show them with this candidate instead of the deployed override")
    p = add(
        "preview", "the filter verdict and exact payload for one iPaaS.com record (writes nothing)", run_preview, destination=True
    )
    p.add_argument("--entity", choices=ENTITIES, required=True)
    p.add_argument("--id", required=True, help="the iPaaS.com record id")
    p.add_argument("--collection", metavar="FILE", help="a candidate override: also prints its payload and the difference")
    p = add("test", "run the collections' sample records (exit 1 when one fails)", run_test, destination=False)
    p.add_argument("--collection", metavar="FILE", help="test this candidate override over the defaults")
    p = add("deploy", "validate an override and store it as the next version", run_deploy, destination=True)
    p.add_argument("--file", required=True, metavar="FILE")
    p.add_argument("--note", help="what the change is (kept in the history)")
    p = add("rollback", "re-deploy an earlier override version as a new version", run_rollback, destination=True)
    p.add_argument("--to-version", type=int, help="the version to restore (default: the one before the current)")
    add("history", "every kept override version", run_history, destination=True)
