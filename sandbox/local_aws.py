"""template.yaml, deployed onto moto: the queues, DLQs, tables and secrets are created from the template
itself (no second, hand-copied definition), and an event-source poller invokes the real handlers with real
SQS event shapes, batch size and MaximumConcurrency taken from the template.

Locally, a failed record becomes visible again after `retry_delay` seconds instead of the queue's
VisibilityTimeout (180 s), so a demo finishes in seconds; moto's redrive moves it to the DLQ after
maxReceiveCount exactly as SQS does.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"


# the local stack's name: its queue and table names, and (as in AWS, from the template) its metrics namespace
# IpaasSync/<stack> and service <stack>
LOCAL_STACK_NAME = "ipaas-sync-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto in server mode on 127.0.0.1: SQS, DynamoDB and Secrets Manager over real HTTP.

    In this process (threads) by default; `process=True` runs it in a child process of its own, as AWS's services
    are outside the functions' processes: the benchmark uses it so that moto's CPU and garbage collections do not
    stall the handlers it measures (they share one interpreter lock otherwise)."""

    def __init__(self, port: int | None = None, *, process: bool = False):
        self.port = port or free_port()
        self._child: subprocess.Popen | None = None
        self._server = None if process else _threaded_moto(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        if self._server is not None:
            self._server.start()
            return self
        self._child = subprocess.Popen([sys.executable, "-m", "sandbox.local_aws", str(self.port)], cwd=ROOT)
        deadline = time.monotonic() + 30
        while True:  # bounded: the child answers within seconds or has failed
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self._child.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto did not start on 127.0.0.1:{self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        elif self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
            self._child = None

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }


def _threaded_moto(port: int):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # one line per moto request otherwise
    _cache_moto_module_list()
    _serialize_dynamodb()
    return ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


def _serialize_dynamodb() -> None:
    """DynamoDB applies the writes to one item one at a time (a conditional write sees the result of the previous
    one); moto's server runs concurrent requests without that isolation, so two conditional writes could both pass
    (the shared rate limiter's slot reservations rely on it). DynamoDB requests are applied one at a time here."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "dynamodb_serialized", False):
        return
    dispatch = DomainDispatcherApplication.__call__
    lock = threading.Lock()

    def serialized(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with lock:
                # the reply body is produced inside the call: materialise it before the lock is released
                return list(dispatch(self, environ, start_response))
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = serialized
    DomainDispatcherApplication.dynamodb_serialized = True


def _cache_moto_module_list() -> None:
    """moto's server dispatches every request under one lock after listing (and stat-ing) its own package directory
    (`moto.backends.list_of_moto_modules`); that listing was most of the CPU a local run spent. The directory does
    not change while we run, so list it once."""
    from moto import backends

    if not getattr(backends.list_of_moto_modules, "cached", False):
        modules = tuple(backends.list_of_moto_modules())

        def cached() -> tuple[str, ...]:
            return modules

        cached.cached = True
        backends.list_of_moto_modules = cached


@dataclass
class EventSource:
    function: str
    queue_logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    max_concurrency: int


@dataclass
class LocalDeployment:
    """The template's resources on moto. `physical[logical_id]` holds Ref / Arn / QueueName / Url."""

    template_path: Path = ROOT / "template.yaml"
    stack_name: str = LOCAL_STACK_NAME
    parameters: dict[str, Any] = field(default_factory=dict)
    secret_values: dict[str, Any] = field(default_factory=dict)
    physical: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self):
        self.template = cfn_yaml.loads(self.template_path.read_text())
        self.resources: dict[str, dict] = self.template["Resources"]

    # -- intrinsic functions (the subset the template uses) ------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.physical[name][attr]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(text, extra)
            if key == "Fn::Join":
                return arg[0].join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        return {k: self.resolve(v) for k, v in value.items()}

    def condition(self, name_or_expr: Any) -> bool:
        """A template condition, by name or as an expression (Fn::Equals / Fn::Not / Fn::And / Fn::Or)."""
        expr = self.template.get("Conditions", {})[name_or_expr] if isinstance(name_or_expr, str) else name_or_expr
        ((key, arg),) = expr.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self.condition(arg[0])
        if key == "Fn::And":
            return all(self.condition(c) for c in arg)
        if key == "Fn::Or":
            return any(self.condition(c) for c in arg)
        raise ValueError(f"condition {key} is not supported locally")

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::StackName": self.stack_name, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
        if name in pseudo:
            return pseudo[name]
        params = self.template.get("Parameters", {})
        if name in params:
            return self.parameters.get(name, params[name].get("Default"))
        return self.physical[name]["Ref"]

    def _sub(self, text: str, extra: dict) -> str:
        import re

        def repl(m):
            token = m.group(1)
            if token in extra:
                return str(extra[token])
            if "." in token:
                name, attr = token.split(".", 1)
                return str(self.physical[name][attr])
            return str(self._ref(token))

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    # -- deployment -------------------------------------------------------------------------------------
    def of_type(self, kind: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def deploy(self) -> LocalDeployment:
        ddb, sqs, sm = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
        for name, res in self.of_type("AWS::DynamoDB::Table").items():
            props = self.resolve(res["Properties"])
            table = props.get("TableName", f"{self.stack_name}-{name}")
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                **({"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if props.get("GlobalSecondaryIndexes") else {}),
            )
            if props.get("TimeToLiveSpecification"):
                ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=props["TimeToLiveSpecification"])
            self.physical[name] = {"Ref": table, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"}
        for name, res in self.of_type("AWS::SecretsManager::Secret").items():
            props = self.resolve(res["Properties"])
            value = self.secret_values.get(name, props.get("SecretString", "{}"))
            arn = sm.create_secret(
                Name=props.get("Name", name), SecretString=value if isinstance(value, str) else json.dumps(value)
            )["ARN"]
            self.physical[name] = {"Ref": arn, "Id": arn}
        for name, res in self.of_type("AWS::SSM::Parameter").items():
            props = self.resolve(res["Properties"])
            boto3.client("ssm").put_parameter(Name=props["Name"], Value=props["Value"], Type=props["Type"], Overwrite=True)
            self.physical[name] = {"Ref": props["Name"]}
        queues = self.of_type("AWS::SQS::Queue")
        # DLQs first: a queue's RedrivePolicy names its DLQ's Arn
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
            props = self.resolve(queues[name].get("Properties", {}))
            qname = props.pop("QueueName", f"{self.stack_name}-{name}")
            attrs = {
                k: (json.dumps(v) if isinstance(v, dict) else str(v))
                for k, v in props.items()
                if k in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "DelaySeconds", "MaximumMessageSize")
            }
            url = sqs.create_queue(QueueName=qname, Attributes=attrs)["QueueUrl"]
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{qname}"
            self.physical[name] = {"Ref": url, "Arn": arn, "QueueName": qname, "QueueUrl": url}
        return self

    # -- functions ---------------------------------------------------------------------------------------
    def functions(self) -> dict[str, dict]:
        return self.of_type("AWS::Serverless::Function")

    def function_environment(self, name: str) -> dict[str, str]:
        env = dict(self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
        env.update(self.functions()[name]["Properties"].get("Environment", {}).get("Variables", {}))
        return {k: str(self.resolve(v)) for k, v in env.items()}

    def function_timeout(self, name: str) -> int:
        return int(self._function_setting(name, "Timeout", 3))

    def function_memory(self, name: str) -> int:
        """The function's MemorySize in MB."""
        return int(self._function_setting(name, "MemorySize", 128))

    def _function_setting(self, name: str, key: str, default: Any) -> Any:
        """A function property: its own, else the Globals', else Lambda's default; resolved (it may be a parameter)."""
        value = self.functions()[name]["Properties"].get(key) or self.template.get("Globals", {}).get("Function", {}).get(
            key, default
        )
        return self.resolve(value)

    def event_sources(self) -> list[EventSource]:
        out = []
        for fname, res in self.functions().items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] != "SQS":
                    continue
                props = event["Properties"]
                queue_name = (
                    props["Queue"]["Fn::GetAtt"][0]
                    if isinstance(props["Queue"]["Fn::GetAtt"], list)
                    else props["Queue"]["Fn::GetAtt"].split(".")[0]
                )
                assert "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []), fname
                out.append(
                    EventSource(
                        function=fname,
                        queue_logical_id=queue_name,
                        queue_url=self.physical[queue_name]["Ref"],
                        queue_arn=self.physical[queue_name]["Arn"],
                        batch_size=int(self.resolve(props.get("BatchSize", 10))),
                        max_concurrency=int(self.resolve(props.get("ScalingConfig", {}).get("MaximumConcurrency", 2))),
                    )
                )
        return out

    def load_handler(self, name: str) -> Callable[[dict, Any], dict]:
        props = self.functions()[name]["Properties"]
        module_file, func = props["Handler"].rsplit(".", 1)
        path = ROOT / props["CodeUri"] / f"{module_file}.py"
        for extra in (str(ROOT / "shared"),):
            if extra not in sys.path:
                sys.path.insert(0, extra)
        spec = importlib.util.spec_from_file_location(f"function_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, func)


class LambdaContext:
    def __init__(self, function_name: str, timeout: int, memory_mb: int = 512):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._end = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def sqs_event(messages: list[dict], arn: str) -> dict:
    """The exact event shape Lambda's SQS event source delivers."""
    records = []
    for m in messages:
        attrs = m.get("Attributes", {})
        records.append(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attrs.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attrs.get("SenderId", ACCOUNT),
                    "ApproximateFirstReceiveTimestamp": attrs.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.get("DataType", "String"),
                    }
                    for k, v in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


@dataclass
class PollStats:
    invocations: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PollStats) -> PollStats:
        """Adds another drain's counts to these (a drain run in rounds); returns self."""
        self.invocations += other.invocations
        self.received += other.received
        self.deleted += other.deleted
        self.failed += other.failed
        self.errors.extend(other.errors)
        return self


class EventSourcePoller:
    """Lambda's SQS event source mapping, locally: MaximumConcurrency workers per queue, each receiving up to
    BatchSize messages, invoking the handler, deleting what succeeded and leaving the failures for SQS."""

    def __init__(
        self,
        deployment: LocalDeployment,
        handlers: dict[str, Callable],
        *,
        retry_delay: int = 1,
        sources: list[EventSource] | None = None,
        on_batch: Callable[[PollStats], None] | None = None,
    ):
        self.deployment = deployment
        self.handlers = handlers
        self.retry_delay = retry_delay
        self.sources = sources if sources is not None else [s for s in deployment.event_sources() if s.function in handlers]
        self.stats = PollStats()
        self._lock = threading.Lock()
        self._busy = 0
        self._on_batch = on_batch
        # moto's ReceiveMessage is not atomic: two concurrent receives on one queue can both get the same message
        # (SQS never does that within the visibility timeout). One receive per queue at a time, handlers still
        # run concurrently.
        self._receiving = {s.queue_url: threading.Lock() for s in self.sources}

    def _poll_once(self, sqs, source: EventSource) -> bool:
        with self._receiving[source.queue_url]:
            resp = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=source.batch_size,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = resp.get("Messages", [])
        if not messages:
            return False
        with self._lock:
            self._busy += 1
        try:
            ctx = LambdaContext(
                source.function,
                self.deployment.function_timeout(source.function),
                self.deployment.function_memory(source.function),
            )
            try:
                reply = self.handlers[source.function](sqs_event(messages, source.queue_arn), ctx) or {}
                failed_ids = {f["itemIdentifier"] for f in reply.get("batchItemFailures", [])}
            except Exception as exc:  # noqa: BLE001 - a crashed invocation fails the whole batch, as in Lambda
                failed_ids = {m["MessageId"] for m in messages}
                with self._lock:
                    self.stats.errors.append(f"{source.function}: {type(exc).__name__}: {exc}")
            done = [m for m in messages if m["MessageId"] not in failed_ids]
            for i in range(0, len(done), 10):
                chunk = done[i : i + 10]
                sqs.delete_message_batch(
                    QueueUrl=source.queue_url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
                )
            for m in messages:
                if m["MessageId"] in failed_ids:
                    sqs.change_message_visibility(
                        QueueUrl=source.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=self.retry_delay
                    )
            with self._lock:
                self.stats.invocations += 1
                self.stats.received += len(messages)
                self.stats.deleted += len(done)
                self.stats.failed += len(failed_ids)
            if self._on_batch:
                self._on_batch(self.stats)
            return True
        finally:
            with self._lock:
                self._busy -= 1

    def _pending(self, sqs) -> int:
        total = 0
        for s in self.sources:
            a = sqs.get_queue_attributes(
                QueueUrl=s.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]  # delayed: deferred by the rate limit
            total += sum(
                int(a.get(name, 0))
                for name in (
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                )
            )
        return total

    def run(self, *, max_seconds: float = 120, idle_checks: int = 2, halt: threading.Event | None = None) -> PollStats:
        """Poll until every source queue is empty (no visible, in-flight or delayed messages), bounded by max_seconds;
        or until `halt` is set (`make serve` stopping: the batches being handled finish, nothing new is received)."""
        stop = threading.Event()
        end = time.monotonic() + max_seconds

        def worker(source: EventSource):
            sqs = boto3.client("sqs")
            while not stop.is_set() and time.monotonic() < end:
                if not self._poll_once(sqs, source):
                    stop.wait(0.2)

        workers = [(s, n) for s in self.sources for n in range(s.max_concurrency)]
        with ThreadPoolExecutor(max_workers=len(workers) or 1) as pool:
            futures = [pool.submit(worker, s) for s, _ in workers]
            sqs = boto3.client("sqs")
            quiet = 0
            while time.monotonic() < end and not (halt is not None and halt.is_set()):
                time.sleep(0.2)  # two quiet checks in a row end the drain: every drain of the tests pays them
                with self._lock:
                    busy = self._busy
                quiet = quiet + 1 if busy == 0 and self._pending(sqs) == 0 else 0
                if quiet >= idle_checks:
                    break
            stop.set()
            for f in futures:
                f.result()
        return self.stats


def apply_environment(env: dict[str, str]) -> None:
    os.environ.update(env)


if __name__ == "__main__":  # MotoServer(process=True)'s child: moto on 127.0.0.1:<port> until terminated
    server = _threaded_moto(int(sys.argv[1]))
    server.start()
    threading.Event().wait()
