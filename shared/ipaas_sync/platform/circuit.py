"""The circuit per destination: closed, open, half-open, shared by every function and container through the rate
limiter's DynamoDB item (throttle.py: one item per destination host, "<platform>:<host>").

    closed     records are admitted and call the destination. Each transient failure of a call to it (connection
               error, timeout, 5xx after http.py's in-call retries) adds one to `c_fails`; a success while failures
               are counted resets them. `threshold` failures in a row open the circuit.
    open       (now < c_open_until) records are not admitted: they wait in SQS (retry.after_wait) without calling it.
    half-open  (now >= c_open_until) one record may take the probe: the conditional write that moves c_open_until one
               `probe_interval` on succeeds for exactly one caller in every container; the others wait. The probe's
               success closes the circuit (and releases the waiting records at their next hop: `c_released`); its
               failure needs no write: the probe already moved c_open_until on by an interval.

Cost: the circuit is attributes of the limiter's item, so its state comes back with every booking (the limiter's
UpdateItem returns the item: ALL_NEW / ALL_OLD) and reading it costs nothing; a container that books nothing (its
records held back) reads the item once per probe interval, ten times while it is open (SharedCircuit.current).
Writes happen only on a state change (open, probe taken, close) and for a failure while the circuit is closed (each
such record made no other partner call on its retry): no DynamoDB call for a healthy destination's records beyond
the rate limiter's, and during an outage at most `threshold` failure writes plus one write per probe interval,
whatever the number of records.

Every update here is a plain SET (no REMOVE; 0 means "not set") so the limiter's writer can append its own
`expires_at` to it, and takes its values as numbers. pybreaker and circuitbreaker keep a circuit in one process
(or in Redis); none shares one through DynamoDB, so this state machine is written by hand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # the boto3 service stubs are development packages (types only), never in the layer
    from mypy_boto3_dynamodb import DynamoDBClient

State = Literal["closed", "open", "half-open"]
ATTRIBUTES = ("c_fails", "c_open_until", "c_opened_at", "c_released", "c_probes")


@dataclass(frozen=True)
class CircuitConfig:
    """Stack parameters CircuitFailureThreshold and CircuitProbeSeconds."""

    threshold: int = 5  # transient failures in a row (across every container) that open the circuit
    probe_interval: float = 60.0  # seconds between probes while it is open

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"circuit: threshold must be at least 1, got {self.threshold!r}")
        if not self.probe_interval > 0:
            raise ValueError(f"circuit: probe_interval must be positive, got {self.probe_interval!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CircuitConfig:
        """From CIRCUIT_FAILURE_THRESHOLD and CIRCUIT_PROBE_SECONDS (each optional); ValueError names the variable."""
        env = os.environ if environ is None else environ
        threshold_text = (env.get("CIRCUIT_FAILURE_THRESHOLD") or "").strip()
        probe_text = (env.get("CIRCUIT_PROBE_SECONDS") or "").strip()
        values: dict[str, Any] = {}
        if threshold_text:
            if not threshold_text.isdigit() or int(threshold_text) < 1:
                raise ValueError(f"CIRCUIT_FAILURE_THRESHOLD must be a whole number >= 1, got {threshold_text[:40]!r}")
            values["threshold"] = int(threshold_text)
        if probe_text:
            try:
                probe = float(probe_text)
            except ValueError:
                probe = -1.0
            if not probe > 0:
                raise ValueError(f"CIRCUIT_PROBE_SECONDS must be a positive number of seconds, got {probe_text[:40]!r}")
            values["probe_interval"] = probe
        return cls(**values)


def _num(item: Mapping[str, Any], name: str) -> float:
    value = item.get(name)
    if isinstance(value, Mapping):  # DynamoDB's typed form {"N": "..."}
        value = value.get("N")
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


@dataclass(frozen=True)
class CircuitView:
    """The circuit as one limiter item holds it (read from the item the last booking returned, or a GetItem)."""

    fails: int = 0
    open_until: float = 0.0  # 0: closed
    opened_at: float = 0.0
    released_at: float = 0.0  # the last close (or an operator's retry-now): waiting records may run from then
    probes: int = 0  # probes taken since it opened

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> CircuitView:
        item = item or {}
        return cls(
            fails=int(_num(item, "c_fails")),
            open_until=_num(item, "c_open_until"),
            opened_at=_num(item, "c_opened_at"),
            released_at=_num(item, "c_released"),
            probes=int(_num(item, "c_probes")),
        )

    def state(self, now: float) -> State:
        if not self.open_until:
            return "closed"
        return "open" if now < self.open_until else "half-open"


@dataclass(frozen=True)
class Update:
    """One conditional UpdateItem on the limiter item: `expression` is a SET list, `values` plain numbers."""

    expression: str
    condition: str | None = None
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Gate:
    """What admission does with a destination's records: `run` them, let the first one `probe`, or `wait` (until)."""

    verdict: Literal["run", "probe", "wait"]
    until: float = 0.0  # wait: the circuit's next probe time
    update: Update | None = None  # probe: the write that takes it (its condition holds for exactly one caller)


def gate(view: CircuitView, now: float, config: CircuitConfig) -> Gate:
    """Admission's question: may records of this destination call it now?"""
    state = view.state(now)
    if state == "closed":
        return Gate("run")
    if state == "open":
        return Gate("wait", until=view.open_until)
    return Gate("probe", until=now + config.probe_interval, update=take_probe(view, now, config))


def take_probe(view: CircuitView, now: float, config: CircuitConfig) -> Update:
    """Half-open: move the next probe time on by one interval, on condition that nobody did since `view` was read.
    The one caller whose write succeeds makes the probe call."""
    return Update(
        expression="SET c_open_until = :c_next, c_probes = if_not_exists(c_probes, :c_zero) + :c_one",
        condition="c_open_until = :c_seen",
        values={":c_next": now + config.probe_interval, ":c_seen": view.open_until, ":c_zero": 0, ":c_one": 1},
    )


# One conditional UpdateItem: (True, the item after it) or (False, the item as the failed condition found it).
Write = Callable[[Update], tuple[bool, Mapping[str, Any]]]
_CLOSED = "(attribute_not_exists(c_open_until) OR c_open_until = :c_zero)"
_COUNT = "c_fails = if_not_exists(c_fails, :c_zero) + :c_one"
WRITE_ATTEMPTS = 3  # conditional writes per failure at most (a guess, a count, an opening)
OPEN_READS_PER_INTERVAL = 10  # reads of the item per probe interval, at most, by a container that last saw it open


def _opening(now: float, config: CircuitConfig, *, count: bool) -> Update:
    """Open the circuit if it is closed and the failures in a row reach the threshold (with this one, `count`)."""
    need = config.threshold - 1 if count else config.threshold
    values: dict[str, float] = {":c_zero": 0, ":c_until": now + config.probe_interval, ":c_now": now}
    if count:
        values[":c_one"] = 1
    if need > 0:
        values[":c_need"] = need
    return Update(
        expression=f"SET {_COUNT + ', ' if count else ''}c_open_until = :c_until, c_opened_at = :c_now, c_probes = :c_zero",
        condition=f"{_CLOSED} AND c_fails >= :c_need" if need > 0 else _CLOSED,
        values=values,
    )


def on_failure(view: CircuitView, now: float, config: CircuitConfig, write: Write) -> tuple[CircuitView, bool]:
    """A transient failure of a call to the destination: count it, and open the circuit at the threshold. Returns
    the circuit after it and whether this failure opened it. No write while the circuit is not closed (the failing
    record was the probe, whose take already moved the next probe time on, or was admitted before it opened).
    The first write is a guess from the item as last seen; a failed condition returns the item for the next one."""
    count = Update(expression=f"SET {_COUNT}", condition=_CLOSED, values={":c_zero": 0, ":c_one": 1})
    for _ in range(WRITE_ATTEMPTS):
        if view.state(now) != "closed":
            return view, False
        ok, item = write(_opening(now, config, count=True) if view.fails + 1 >= config.threshold else count)
        after = CircuitView.from_item(item)
        if ok and after.open_until:
            return after, True
        if ok and after.fails >= config.threshold:  # counted, and others counted meanwhile: open it now
            ok, item = write(_opening(now, config, count=False))
            return CircuitView.from_item(item), ok
        if ok:
            return after, False
        view = after
    return view, False


def on_success(view: CircuitView, now: float) -> Update | None:
    """A call to the destination succeeded: close an open (or half-open) circuit and release the waiting records;
    reset a count of failures. None (no write) when the item as last seen shows neither: a healthy destination."""
    if view.open_until:
        return release(now)
    if view.fails:
        return Update(expression="SET c_fails = :c_zero", condition="attribute_exists(pk)", values={":c_zero": 0})
    return None


def release(now: float) -> Update:
    """Close the circuit and release every record waiting for this destination at its next hop (the probe's success,
    or an operator's `ipaas-sync circuit close` / `retry-now`)."""
    return Update(
        expression="SET c_fails = :c_zero, c_open_until = :c_zero, c_released = :c_now",
        condition="attribute_exists(pk)",  # only a destination the limiter knows (a mistyped key creates nothing)
        values={":c_zero": 0, ":c_now": now},
    )


def try_probe(view: CircuitView, now: float, config: CircuitConfig, write: Write) -> tuple[bool, CircuitView]:
    """Half-open: try to take the probe (True for exactly one caller per interval) and the circuit as then known."""
    ok, item = write(take_probe(view, now, config))
    return ok, CircuitView.from_item(item)


class SharedCircuit:
    """One destination's circuit in one container, on the limiter item: `write` is the limiter's conditional
    UpdateItem, `item` the item as the limiter last saw it (every booking refreshes it), `read` a GetItem (for a
    container that books nothing: at most once per probe interval, ten times while it last saw the circuit open).
    `on_open` is told when a failure here opened it (the CircuitOpened metric)."""

    def __init__(
        self,
        key: str,
        *,
        write: Write,
        item: Callable[[], Mapping[str, Any]],
        read: Callable[[], Mapping[str, Any]],
        config: CircuitConfig,
        clock: Callable[[], float] = time.time,
        on_open: Callable[[str], None] | None = None,
    ):
        self.key, self.config = key, config
        self._write, self._item, self._read, self._clock, self._on_open = write, item, read, clock, on_open
        self._read_at = float("-inf")
        self._fresh: Mapping[str, Any] | None = None
        self.probes_taken = 0  # counters (the benchmark reads them)
        self.opened_here = 0

    def view(self) -> CircuitView:
        """The circuit as last seen (no call)."""
        return CircuitView.from_item(self._item() or self._fresh)

    def current(self) -> CircuitView:
        """The circuit, read again if this container has not seen the item for a probe interval, or for a tenth of
        one while the item as last seen says open: the probe that closes the circuit is another container's, and a
        container whose view stays open holds its records back until the next probe time it knows of (a whole
        interval after the close at worst: 60 s by default, and each record held meanwhile waits up to another
        interval). A read costs no more than a booking and is made per container, never per record."""
        now = self._clock()
        seen = self.view()
        every = self.config.probe_interval / (OPEN_READS_PER_INTERVAL if seen.state(now) == "open" else 1)
        if now - self._read_at >= every:
            self._read_at = now
            self._fresh = self._read()
            return CircuitView.from_item(self._fresh)
        return seen

    def admit(self) -> Gate:
        """May this destination's records call it now? "run", "probe" (this caller took the one probe of the
        interval: its first record calls), or "wait" until the next probe."""
        now = self._clock()
        verdict = gate(self.view(), now, self.config)
        if verdict.verdict != "probe":
            return verdict
        took, after = try_probe(self.view(), now, self.config, self._write)
        if took:
            self.probes_taken += 1
            return verdict
        # lost: another caller took the probe (wait for the next one), or closed the circuit meanwhile (the item as
        # the failed write found it says so): run, never wait on a closed circuit
        return gate(after, now, self.config) if after.state(now) != "half-open" else Gate("wait", until=after.open_until)

    def failed(self) -> None:
        """A call to the destination failed transiently (after its in-call retries)."""
        _, opened = on_failure(self.view(), self._clock(), self.config, self._write)
        if opened:
            self.opened_here += 1
            if self._on_open is not None:
                self._on_open(self.key)

    def succeeded(self) -> None:
        """A call to the destination succeeded: close the circuit or reset the count, if the item shows either."""
        update = on_success(self.view(), self._clock())
        if update is not None:
            self._write(update)


def platform_of(key: str) -> str:
    """The destination's name in a limiter key "<platform>:<host>" (what operators read: "99minds")."""
    return key.split(":", 1)[0]


def describe(key: str, view: CircuitView, now: float) -> str:
    """One line per destination for `ipaas-sync circuit status` and `status`."""
    state = view.state(now)
    name = platform_of(key)
    if state == "closed":
        tail = f", {view.fails} failure(s) in a row" if view.fails else ""
        return f"{key}: closed{tail}"
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(view.opened_at)) if view.opened_at else "?"
    probe = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(view.open_until))
    return f"{key}: {state} since {since} ({view.probes} probe(s)); waiting for {name} to recover, next probe at {probe}"


def _typed(values: Mapping[str, float]) -> dict[str, Any]:
    return {k: {"N": f"{v:.6f}" if isinstance(v, float) else str(v)} for k, v in values.items()}


class CircuitTable:
    """The circuits as operators see them (the CLI): read every limiter item's circuit, close one by hand.
    The transfer path never uses this class: its circuit writes go through the limiter's own UpdateItem."""

    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None):
        self.table_name = table_name
        self._ddb = client or boto3.client("dynamodb")

    def view(self, key: str) -> CircuitView:
        item = self._ddb.get_item(TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        return CircuitView.from_item(item)

    def all(self) -> dict[str, CircuitView]:
        """Every destination key the limiter table holds (one small item per destination host), bounded pages."""
        out: dict[str, CircuitView] = {}
        kwargs: dict[str, Any] = {"TableName": self.table_name}
        for _ in range(100):  # a handful of items: one page; bounded anyway
            page = self._ddb.scan(**kwargs)
            for item in page.get("Items", []):
                out[item["pk"]["S"]] = CircuitView.from_item(item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def write(self, key: str, update: Update) -> tuple[bool, Mapping[str, Any]]:
        """Run one update (a Write): (True, the item after it) or (False, the item as found)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": update.expression,
            "ExpressionAttributeValues": _typed(update.values),
            "ReturnValues": "ALL_NEW",
        }
        if update.condition:
            kwargs["ConditionExpression"] = update.condition
        kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            return True, self._ddb.update_item(**kwargs).get("Attributes") or {}
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            found = exc.response.get("Item")
            return False, found if isinstance(found, Mapping) else {}

    def close(self, key: str, now: float | None = None) -> CircuitView | None:
        """Close by hand: records waiting for this destination run at their next hop. None: no such destination key
        in the table (nothing was ever rate-limited for it)."""
        ok, item = self.write(key, release(time.time() if now is None else now))
        return CircuitView.from_item(item) if ok else None


__all__ = [
    "CircuitConfig",
    "CircuitTable",
    "CircuitView",
    "Gate",
    "SharedCircuit",
    "Update",
    "gate",
    "Write",
    "on_failure",
    "on_success",
    "release",
    "take_probe",
    "try_probe",
]
