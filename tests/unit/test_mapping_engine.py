"""The mapping-collection engine: exact money, the sandbox, the time bound, validation at load (naming collection,
field and position), runtime errors, filters, overrides, the seed's adjustable points and the override store."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from ipaas_sync.core.errors import ConfigurationError, InvalidRecord, PermanentError, Skip, classify
from ipaas_sync.core.models.ipaas import IpaasTransaction
from ipaas_sync.mapping import expressions
from ipaas_sync.mapping.collection import Collection, apply_overrides, load_defaults
from ipaas_sync.mapping.evaluate import MappingFormulaCutOff, MappingFormulaError, evaluate, verdict
from ipaas_sync.mapping.expressions import FormulaSyntaxError, compile_formula
from ipaas_sync.mapping.overrides import OverrideStore, SubscriptionCollections
from ipaas_sync.mapping.samples import run_samples
from ipaas_sync.mapping.validate import compile_all, compile_collection

DEFAULTS = load_defaults()
INVOICE = "99minds Invoice From iPaaS"
NAMES = {"total": "number", "subtotal": "number", "type": "string", "transaction_number": "string", "lines": "list"}
FILTER = {"transaction_types": ("Order", "Validated Return"), "transaction_status": "Complete",
          "excluded_transaction_suffixes": ("-D", "-GC")}  # fmt: skip
STORE = {"linked_customer_id": "nn-1", "store_ref_id": "store_main", **FILTER}


def txn(**kw):
    base = {"id": "9001", "transaction_number": "SO-1", "customer_id": "42", "type": "Order", "status": "Complete",
            "subtotal": "90.00", "total": "99.50", "total_qty": "3", "lines": []}  # fmt: skip
    return IpaasTransaction.model_validate({**base, **kw})


def collection(*fields, **kw) -> Collection:
    doc = {"name": "Test", "destination": "99minds", "source": "transaction", "target": "thing", "fields": list(fields)}
    return Collection.model_validate({**doc, **kw})


def formula_field(formula, type_="any", to="out"):
    return {"to": to, "kind": "formula", "formula": formula, "type": type_}


def run(formula, type_="any", record=None):
    return evaluate(compile_collection(collection(formula_field(formula, type_))), record or txn())["out"]


def invoice(override=None):
    return compile_all(apply_overrides(DEFAULTS, override))[("99minds", "order_workflow")]


# -- money: exact, never through binary floating point --------------------------------------------------------------
def test_decimal_literals_are_exact():
    assert run("0.1 + 0.2 == 0.3") is True
    assert run("0.1 + 0.2", "money") == "0.30"
    assert json.dumps({"v": run("0.1 + 0.2", "number")}) == '{"v": 0.3}'
    assert run("0.1 + 0.2", "decimal") == "0.3"


def test_record_amounts_are_exact_up_to_fourteen_digits():
    record = txn(total="12345678901234.56", subtotal="0.1")
    assert run("total", "money", record) == "12345678901234.56"
    assert json.dumps({"v": run("total", "number", record)}) == '{"v": 12345678901234.56}'
    assert run("total + 0.01", "money", record) == "12345678901234.57"
    assert run("subtotal + 0.2", "decimal", record) == "0.3"


def test_a_number_no_json_number_carries_exactly_is_refused_not_rounded():
    with pytest.raises(MappingFormulaError, match="no JSON number carries exactly"):
        run("1234567890123456.78", "number")
    with pytest.raises(MappingFormulaError, match="more than 2 decimal places"):
        run("total / 3", "money")


# -- the sandbox: refused when the collection loads -----------------------------------------------------------------
@pytest.mark.parametrize(
    "formula",
    [
        "().__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "__import__('os').environ",
        "open('/etc/passwd').read()",
        "os.environ['AWS_SECRET_ACCESS_KEY']",
        "getattr(total, '__class__')",
        "exec('1')",
        "eval('1+1')",
        "(lambda: 1)()",
        "[x for x in lines]",
        "{'a': 1}",
        "type.__subclasses__(type)",
        "transaction_number.format(total)",
        "total.as_integer_ratio()",
        "parent.__class__",
        "9 ** 9 ** 9",
        "1 << 100000",
        "f'{total.__class__}'",
        "lines[0]",
        "(x := 1)",
        "requests.get('http://example.com')",
    ],
)
def test_escapes_are_rejected_at_load(formula):
    with pytest.raises(FormulaSyntaxError):
        compile_formula(formula, NAMES)
    with pytest.raises(ConfigurationError, match=r"mapping collection 'Test', field 'out': .*\(column \d+\) in formula"):
        compile_collection(collection(formula_field(formula)))


def test_a_formula_only_sees_the_record_and_its_inputs(monkeypatch):
    monkeypatch.setenv("SECRET_SAUCE", "x")
    with pytest.raises(ConfigurationError, match="unknown field 'SECRET_SAUCE'"):
        compile_collection(collection(formula_field("SECRET_SAUCE")))


# -- bounded time --------------------------------------------------------------------------------------------------------
def test_a_pathological_formula_is_refused_at_load():
    huge = " + ".join(["1"] * 400)
    with pytest.raises(FormulaSyntaxError, match="more than 300 parts"):
        compile_formula(huge, NAMES)
    with pytest.raises(FormulaSyntaxError, match="longer than 2000 characters"):
        compile_formula("'" + "x" * 2100 + "'", NAMES)


def test_a_blow_up_at_run_time_is_cut_off_for_that_record():
    with pytest.raises(MappingFormulaError, match=r"field 'out': formula `'x' \* 100000 \* 100000` failed"):
        run("'x' * 100000 * 100000", "string")


def test_the_wall_clock_budget_cuts_an_evaluation_off_as_a_transient_failure(monkeypatch):
    # a formula's structure bounds its work to milliseconds: a cut-off says the host was starved of CPU, not that the
    # record is bad, so it is retried on the schedule (transient), never parked as the record's fault (permanent)
    ticks = iter(range(0, 10_000, 5))  # every reading of the clock is 5 s later: the budget (1 s) is spent at once
    monkeypatch.setattr(expressions, "_clock", lambda: next(ticks))
    with pytest.raises(MappingFormulaCutOff, match=r"field 'out': formula `total \+ 1` failed: took longer") as err:
        run("total + 1", "number")
    assert classify(err.value) == "transient"
    assert not isinstance(err.value, MappingFormulaError)


# -- validation at load: collection, field and position named ---------------------------------------------------------
def test_unknown_field_names_collection_field_and_column():
    with pytest.raises(ConfigurationError) as err:
        compile_collection(collection(formula_field("total + totl", "number", to="total_price")))
    assert str(err.value) == (
        "mapping collection 'Test', field 'total_price': unknown field 'totl' (column 9) in formula `total + totl`"
    )


def test_wrong_result_type_for_the_destination_field():
    with pytest.raises(ConfigurationError, match="field 'total_price': gives string where the destination field is number"):
        compile_collection(collection(formula_field("'free' if total < 0 else total", "number", to="total_price")))
    with pytest.raises(ConfigurationError, match=r"'\+' cannot combine number and string \(column 1\)"):
        compile_collection(collection(formula_field("total + type", "any")))


def test_unknown_lookup_table():
    with pytest.raises(ConfigurationError, match="field 'store_ref_id': unknown lookup table 'stores' \\(tables: none\\)"):
        compile_collection(collection({"to": "store_ref_id", "kind": "lookup", "table": "stores", "source": "id"}))
    with pytest.raises(ConfigurationError, match="unknown lookup table 'stors' \\(tables: stores\\) \\(column 8\\)"):
        compile_collection(collection(formula_field("lookup('stors', id)"), lookups={"stores": {"rows": {}}}))


def test_two_enabled_collections_writing_the_same_entity_conflict():
    twin = {**DEFAULTS[0].model_dump(), "name": "Another customer mapping"}
    with pytest.raises(ConfigurationError, match="both enabled and both write the 99minds customer"):
        compile_all(apply_overrides(DEFAULTS, {"collections": [twin]}))
    compile_all(apply_overrides(DEFAULTS, {"collections": [{**twin, "status": "Disabled"}]}))  # disabled: no conflict


def test_a_bad_override_names_what_it_extends():
    with pytest.raises(ConfigurationError, match="extends a collection that does not exist"):
        apply_overrides(DEFAULTS, {"collections": [{"extends": "Nope"}]})
    with pytest.raises(ConfigurationError, match="'destination' cannot be overridden"):
        apply_overrides(DEFAULTS, {"collections": [{"extends": INVOICE, "destination": "stamped"}]})


def test_every_default_collection_loads_and_passes_its_own_samples():
    compiled = compile_all(DEFAULTS)
    assert len(compiled) == len(DEFAULTS)
    results = [r for c in compiled.values() for r in run_samples(c)]
    assert results and all(r.ok for r in results), [r for r in results if not r.ok]


# -- runtime errors, filters ----------------------------------------------------------------------------------------------
def test_a_formula_failing_on_one_record_dead_letters_that_record_only():
    compiled = invoice()
    bad = txn(custom_fields=[{"custom_field_name": "LoyaltyPointsClaimed", "value": "lots"}])
    with pytest.raises(MappingFormulaError) as err:
        evaluate(compiled, bad, STORE)
    assert isinstance(err.value, PermanentError)  # dead-lettered, not retried
    assert str(err.value) == (
        "transaction SO-1: mapping collection '99minds Invoice From iPaaS', field 'loyalty_points_claimed': formula "
        "`decimal(custom_field('LoyaltyPointsClaimed'))` failed: decimal(): 'lots' is not a number"
    )
    assert evaluate(compiled, txn(), STORE)["idempotent_id"] == "SO-1"  # the next record is unaffected


def test_filter_skips_with_its_reason_and_error_filter_dead_letters_with_the_message():
    compiled = invoice()
    with pytest.raises(Skip, match=r"^transaction SO-1-GC: transaction number ends with '-GC' \(excluded by the filter\)$"):
        evaluate(compiled, txn(transaction_number="SO-1-GC"), STORE)
    with pytest.raises(InvalidRecord, match="Invalid refund data"):
        evaluate(compiled, txn(type="Validated Return", total=None), STORE)


# -- the seed's adjustable points, each by data alone -----------------------------------------------------------------
def test_filter_adjusted_to_orders_from_one_source():
    override = {"collections": [{"extends": INVOICE, "source_fields": {"source": "string"},
                                 "filter": {"formula": "type == 'Order' and status == 'Complete' and source == 'Web'",
                                            "reason": "not a completed web order"}}]}  # fmt: skip
    compiled = invoice(override)
    assert verdict(compiled, txn(source="Web")) is None
    assert "not a completed web order" in verdict(compiled, txn(source="POS"))
    assert verdict(invoice(), txn(source="POS"), FILTER) is None  # the default takes every source


def test_loyalty_points_claimed_from_another_source_field():
    override = {"collections": [{"extends": INVOICE, "fields": [
        {"to": "loyalty_points_claimed", "kind": "field", "source": "custom_fields.PointsUsed", "type": "any"}]}]}  # fmt: skip
    record = txn(custom_fields={"PointsUsed": "75", "LoyaltyPointsClaimed": "150"})
    payload = evaluate(invoice(override), record, STORE)
    assert payload["loyalty_points_claimed"] == "75"
    assert list(payload) == list(evaluate(invoice(), record, STORE))  # replaced in place: the wire order holds


def test_total_and_refund_formulas_adjusted_to_the_merchants_types():
    override = {"collections": [{"extends": INVOICE,
        "filter": {"formula": "type in ('Order', 'Refund') and status == 'Complete'"},
        "fields": [
            {"to": "trigger", "kind": "formula", "type": "string", "formula": "'order_refunded' if type == 'Refund' else 'order_paid'"},
            {"to": "total_price", "kind": "formula", "type": "number", "formula": "None if type == 'Refund' else total"},
            {"to": "refund_amount", "kind": "formula", "type": "number", "formula": "abs(total) - 0.5 if type == 'Refund' else None"},
        ]}]}  # fmt: skip
    payload = evaluate(invoice(override), txn(type="Refund", total="-40.25"), STORE)
    assert payload["trigger"] == "order_refunded" and payload["refund_amount"] == 39.75 and "total_price" not in payload


def test_store_per_physical_location_through_a_lookup_table():
    override = {"collections": [{"extends": INVOICE, "source_fields": {"location": "string"},
        "lookups": {"stores_by_location": {"rows": {"Main St": "store_main", "Harbour": "store_harbour"}, "default": None}},
        "fields": [{"to": "store_ref_id", "kind": "formula", "type": "string",
                    "formula": "lookup('stores_by_location', location) or text(store_ref_id)"}]}]}  # fmt: skip
    compiled = invoice(override)
    assert evaluate(compiled, txn(location="Harbour"), STORE)["store_ref_id"] == "store_harbour"
    assert evaluate(compiled, txn(location="Elsewhere"), STORE)["store_ref_id"] == "store_main"  # the default store
    assert evaluate(invoice(), txn(location="Harbour"), STORE)["store_ref_id"] == "store_main"  # one store for all


def test_mapping_status_disabled_and_a_removed_field():
    assert ("99minds", "order_workflow") not in compile_all(
        apply_overrides(DEFAULTS, {"collections": [{"extends": INVOICE, "status": "Disabled"}]})
    )
    removed = invoice({"collections": [{"extends": INVOICE, "fields": [{"to": "loyalty_points_claimed", "remove": True}]}]})
    record = txn(custom_fields={"LoyaltyPointsClaimed": "150"})
    assert "loyalty_points_claimed" not in evaluate(removed, record, STORE)


def test_a_line_reads_its_parent_and_a_static_value():
    override = {"collections": [{"extends": INVOICE, "fields": [{"to": "line_items", "fields": [
        {"to": "order", "kind": "field", "source": "parent.transaction_number", "type": "string"},
        {"to": "channel", "kind": "static", "value": "pos"}]}]}]}  # fmt: skip
    lines = evaluate(invoice(override), txn(lines=[{"id": "1", "qty": "2", "sku": "A"}]), STORE)["line_items"]
    assert lines == [{"quantity": 2, "sku": "A", "line_id": "1", "order": "SO-1", "channel": "pos"}]


# -- the override store (SSM Parameter Store, moto) ------------------------------------------------------------------------
@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_deploy_validates_before_writing_history_and_rollback(ssm):
    store = OverrideStore(ssm, "/ipaas-sync", DEFAULTS)
    assert store.current("1001") is None and store.history("1001") == []
    first = {"collections": [{"extends": INVOICE, "fields": [{"to": "loyalty_points_claimed", "remove": True}]}]}
    assert store.deploy("1001", first, "drop loyalty points") == 1
    broken = {"collections": [{"extends": INVOICE, "filter": {"formula": "typ == 'Order'"}}]}
    with pytest.raises(ConfigurationError, match="field 'filter': unknown field 'typ'"):
        store.deploy("1001", broken)
    assert [v.version for v in store.history("1001")] == [1]  # nothing written
    second = {"collections": [{"extends": INVOICE, "status": "Disabled"}]}
    assert store.deploy("1001", second) == 2
    assert store.rollback("1001") == (1, 3)
    assert store.current("1001").document == first
    assert [v.description for v in store.history("1001")] == [
        "drop loyalty points",
        "ipaas-sync mapping deploy",
        "rollback to version 1",
    ]


def test_rolling_back_the_first_override_restores_the_defaults(ssm):
    """The walkthrough's deploy-then-rollback on a subscription's first change (before: "no earlier version")."""
    store = OverrideStore(ssm, "/ipaas-sync", DEFAULTS)
    with pytest.raises(ConfigurationError, match="no mapping override to roll back"):
        store.rollback("1001")
    store.deploy("1001", {"collections": [{"extends": INVOICE, "status": "Disabled"}]})
    assert store.rollback("1001") == (0, 2)
    assert store.current("1001").document == {"collections": []}
    assert store.history("1001")[-1].description == "rollback to the defaults"
    assert ("99minds", "order_workflow") in SubscriptionCollections(DEFAULTS, "/ipaas-sync", ssm).get("99minds", "1001")


def test_a_batchs_first_records_asking_together_compile_the_collections_once(monkeypatch):
    """Records of a batch run in threads; CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion depth
    mismatch" failed a record in the suite): the collections are compiled by one thread, once."""
    import threading
    import time

    from ipaas_sync.mapping import overrides

    calls, real = [], overrides.compile_all

    def slow_compile(collections):
        calls.append(threading.get_ident())
        time.sleep(0.05)  # the window in which the other threads ask
        return real(collections)

    monkeypatch.setattr(overrides, "compile_all", slow_compile)
    loader = SubscriptionCollections(DEFAULTS, None)
    start, results, errors = threading.Barrier(8), [], []

    def ask():
        start.wait()
        try:
            results.append(loader.get("99minds", "1001"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)


def test_a_subscription_with_a_broken_override_fails_alone(ssm):
    ssm.put_parameter(Name="/ipaas-sync/mappings/99minds/1001", Value='{"collections": [{"extends": "Nope"}]}', Type="String")
    loader = SubscriptionCollections(DEFAULTS, "/ipaas-sync", ssm)
    with pytest.raises(ConfigurationError, match="/ipaas-sync/mappings/99minds/1001.*extends a collection that does not exist"):
        loader.get("99minds", "1001")
    assert ("99minds", "order_workflow") in loader.get("99minds", "1002")  # no override: the defaults


def test_an_override_is_stored_under_its_destinations_platform_and_found_by_the_system_id_alone(ssm):
    """The parameter name carries the platform (each function's role reads only its destinations' overrides:
    template.yaml's MappingOverrides, written per destination by scripts/destinations.py)."""
    store = OverrideStore(ssm, "/ipaas-sync", DEFAULTS)
    stamped = {"collections": [{"extends": "Stamped.io Customer From iPaaS", "status": "Disabled"}]}
    store.deploy("2002", stamped)
    assert ssm.get_parameter(Name="/ipaas-sync/mappings/stamped/2002")["Parameter"]["Version"] == 1
    assert store.locate("2002") == "stamped" and store.current("2002").document == stamped
    assert store.deploy("2002", {"collections": []}) == 2  # no collection named: the deployed one's platform
    mixed = {"collections": [stamped["collections"][0], {"extends": INVOICE, "status": "Disabled"}]}
    with pytest.raises(ConfigurationError, match="subscription 2003: it changes collections of 99minds, stamped"):
        store.deploy("2003", mixed)
    with pytest.raises(ConfigurationError, match="subscription 2004: it names no destination's collection"):
        store.deploy("2004", {"collections": []})
    ticket = {"collections": [{"extends": "99minds to iPaaS.com Loyalty Ticket", "subject": "'loyalty ' + id"}]}
    store.deploy("1001", ticket)  # 99minds -> iPaaS.com: the 99minds subscription's (what the loyalty function reads)
    assert store.locate("1001") == "99minds"


def test_money_in_a_default_payload_is_the_records_decimal():
    payload = evaluate(invoice(), txn(total="0.1", subtotal="0.2"), STORE)
    assert json.dumps(payload).count("0.1") == 1 and Decimal(repr(payload["total_price"])) == Decimal("0.1")
