"""Mapping collections benchmark (a script, not a test; part of `make bench`):

1. loading and validating every default collection at cold start, in a fresh interpreter (goal: under 50 ms), and
   what importing the engine (simpleeval included) adds to a transfer handler's imports (the handlers' cold start
   against `import boto3` plus one client is bench/cold_start.py's);
2. evaluation cost per record of each default collection against today's Python mapping on the same record
   (CPU time, best of several rounds), printed as ratios and as the added microseconds per record, and that
   figure as a share of a record's CPU time in the real InvoiceTransferFunction handler run against the local stack
   (goal: at most 5 %).

    python -m bench.mapping_benchmark [--rounds 5] [--records 2000] [--handler-records 50]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLD = """
import time
import ipaas_sync.core.errors, ipaas_sync.core.models.ipaas  # what every transfer handler imports anyway
t0 = time.perf_counter()
from ipaas_sync.mapping.collection import load_defaults
from ipaas_sync.mapping.validate import compile_all
t1 = time.perf_counter()
compiled = compile_all(load_defaults())
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.2f} {(t2 - t1) * 1000:.2f} {len(compiled)}")
"""


def cold_start(runs: int) -> tuple[float, float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared")}
    imports, loads, count = [], [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], env=env, check=True, capture_output=True, text=True).stdout.split()
        imports.append(float(out[0]))
        loads.append(float(out[1]))
        count = int(out[2])
    return min(imports), min(loads), count


def cpu_per_call(fn: Callable[[], Any], records: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(records):
            fn()
        best = min(best, (time.process_time() - started) / records)
    return best


def cases() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    from ipaas_sync.core.models.ipaas import IpaasCustomer, IpaasGiftCard, IpaasTransaction
    from ipaas_sync.core.settings import TransactionFilter
    from ipaas_sync.destinations.makini.mapping import transaction as sales_order_makini
    from ipaas_sync.destinations.ninetynine_minds.mapping import customer as customer_99minds
    from ipaas_sync.destinations.ninetynine_minds.mapping import giftcard as giftcard_99minds
    from ipaas_sync.destinations.ninetynine_minds.mapping import transaction as invoice_99minds
    from ipaas_sync.destinations.ninetynine_minds.settings import NinetyNineMindsSettings
    from ipaas_sync.destinations.ninetynine_minds.to_ipaas import loyalty_mapping as lt
    from ipaas_sync.mapping.collection import load_defaults
    from ipaas_sync.mapping.evaluate import evaluate
    from ipaas_sync.mapping.transaction_filter import rejection
    from ipaas_sync.mapping.validate import compile_all

    compiled = compile_all(load_defaults())
    settings = SimpleNamespace(store_ref_id="store_main", client_store_id=None)
    store = NinetyNineMindsSettings.store.fget(settings)  # type: ignore[attr-defined]
    stores = {"store_ref_id": "store_main", "client_store_id": None}
    rule = {"transaction_types": ("Order", "Validated Return"), "transaction_status": "Complete",
            "excluded_transaction_suffixes": ("-D", "-GC")}  # fmt: skip
    txn = IpaasTransaction.model_validate(
        {"id": "7001", "transaction_number": "SO-7001", "customer_id": "501", "type": "Order", "status": "Complete",
         "subtotal": "90.00", "total": "99.50", "total_qty": "3", "created_datetime": "2025-03-01T10:00:00Z",
         "custom_fields": [{"id": "51", "custom_field_name": "LoyaltyPointsClaimed", "value": "150"}],
         "lines": [{"id": "70011", "sku": "MUG-01", "qty": "2", "unit_price": "4.50"},
                   {"id": "70012", "sku": "TEE-01", "qty": "1", "unit_price": "19.99"}]}
    )  # fmt: skip
    customer = IpaasCustomer.model_validate(
        {"id": "501", "first_name": "Ada", "last_name": "Lovelace", "email_address": "ada@example.com",
         "customer_number": "C-501", "phone_number": "555 0100"}
    )  # fmt: skip
    card = IpaasGiftCard.model_validate({"id": "77", "number": "GC-77", "original_amount": "50.00", "status": "Active"})
    products = {"MUG-01": "p-mug", "TEE-01": "p-tee"}
    tables = {"products": products}
    invoice_inputs = {"linked_customer_id": "nn-501", **stores, **rule}

    points = lt.parse({"id": "t9", "transaction_amount": "25.50", "transaction_type": "adjustment", "customer_id": "c1",
                       "card_id": "card_1"}, "99minds loyalty transaction t9", "t9")  # fmt: skip
    fields = lt.custom_fields(points, points_field="Points", type_field="Type", card_field="Card")
    ticket_inputs = {"loyalty_transaction_number_prefix": "99minds", "loyalty_transaction_number_separator": "",
                     "loyalty_ticket_status": "Complete", "linked_customer_id": "501", "system_id": "1001",
                     "loyalty_custom_fields": fields, "external_ids": lt.link("1001", "99mindst9")}  # fmt: skip

    def python_invoice() -> Any:
        rejection(txn, TransactionFilter())
        return invoice_99minds.map_invoice(txn, customer_id="nn-501", original_order_id=None, store=store)

    def python_sales_order() -> Any:
        rejection(txn, TransactionFilter())
        return sales_order_makini.map_sales_order(txn, customer_key="ck", product_keys=products)

    return [
        ("99minds order workflow", python_invoice,
         lambda: evaluate(compiled[("99minds", "order_workflow")], txn, invoice_inputs)),
        ("99minds customer", lambda: customer_99minds.map_customer(customer, store),
         lambda: evaluate(compiled[("99minds", "customer")], customer, stores)),
        ("99minds gift card issue",
         lambda: giftcard_99minds.issue_payload(card, campaign_id="c", store=store, customer_id=None),
         lambda: evaluate(compiled[("99minds", "giftcard")], card, {"campaign_id": "c", **stores})),
        ("Makini sales order", python_sales_order,
         lambda: evaluate(compiled[("makini", "sales_order")], txn, {"linked_customer_key": "ck", **rule}, tables=tables)),
        # 99minds -> iPaaS.com (LoyaltyTransferFunction; its share is taken of the invoice handler's record CPU)
        ("99minds -> iPaaS Ticket",
         lambda: lt.ticket(points, number="99mindst9", status="Complete", customer_id="501", system_id="1001", fields=fields),
         lambda: evaluate(compiled[("ipaas", "loyalty_ticket")], points, ticket_inputs)),
    ]  # fmt: skip


def handler_cpu_ms(records: int) -> float:
    """A record's CPU time in the real InvoiceTransferFunction handler (the handler's own thread, batches of 10, moto
    in its own process and the partner sandboxes in their threads: neither counted), against the local stack."""
    from sandbox.destinations import TEST_LIMITS
    from sandbox.local_aws import MotoServer
    from sandbox.pipeline import transaction
    from sandbox.stack import NINETYNINE_SYSTEM_ID, LocalStack

    moto = MotoServer(process=True).start()
    stack = LocalStack(moto=moto, limits=TEST_LIMITS).start()
    spent = [0.0]
    try:
        name = "InvoiceTransferFunction"
        handler = stack.handlers[name]

        def timed(event: Any, context: Any) -> Any:
            started = time.thread_time()
            try:
                return handler(event, context)
            finally:
                spent[0] += time.thread_time() - started

        stack.handlers[name] = timed
        stack.ninetynine.customers["customer_42"] = {"id": "customer_42", "email": "c@example.com"}
        stack.ipaas.set_link(NINETYNINE_SYSTEM_ID, "customer", "42", "customer_42")
        for i in range(records):
            stack.ipaas.put("transactions", transaction(str(90000 + i), f"SO-{90000 + i}", "42"))
            body = {"scope": "transaction/created", "id": str(90000 + i), "destination": NINETYNINE_SYSTEM_ID}
            stack.send("TransactionNinetyNineMindsQueue", body)
        with open(os.devnull, "w") as quiet:  # the handlers' JSON log lines: not the benchmark's output
            streams = [h for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
                       for h in lg.handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stdout]  # fmt: skip
            for h in streams:
                h.setStream(quiet)
            try:
                with contextlib.redirect_stdout(quiet):  # and the EMF metric lines
                    stack.drain(max_seconds=300, functions=[name])
            finally:
                for h in streams:
                    h.setStream(sys.stdout)
        sent = len(stack.outcomes("sent"))
        if sent != records:
            raise RuntimeError(f"the handler sent {sent} of {records} records")
    finally:
        stack.stop()
        moto.stop()
    return spent[0] / records * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--handler-records", type=int, default=50, help="records through the real handler (its CPU per record)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "shared"))
    imports, load, count = cold_start(args.rounds)
    print(
        f"mapping collections: load + validate all {count} default collections at cold start {load:.1f} ms "
        f"(goal < 50 ms); the engine's own import (simpleeval included) {imports:.1f} ms"
    )
    ok = load < 50
    sys.path.insert(0, str(ROOT))
    handler_ms = handler_cpu_ms(args.handler_records)
    print(
        f"InvoiceTransferFunction: {handler_ms:.2f} ms of CPU per record (the handler's thread, {args.handler_records} records)"
    )
    for name, python, collection in cases():
        py = cpu_per_call(python, args.records, args.rounds)
        co = cpu_per_call(collection, args.records, args.rounds)
        line = (
            f"mapping {name:24s} python {py * 1e6:6.1f} us, collection {co * 1e6:6.1f} us: "
            f"ratio {co / py:.2f}, +{(co - py) * 1e6:.1f} us"
        )
        share = (co - py) / (handler_ms / 1000) * 100
        ok = ok and share <= 5
        line += f" = {share:.1f} % of a record's handler CPU (goal <= 5 %)"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
