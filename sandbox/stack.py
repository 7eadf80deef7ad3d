"""Everything local in one object: moto server, partner sandboxes, the template deployed onto moto with
subscription secrets that point at the sandboxes, the real handlers behind an event-source poller, and the
template's HttpApi routes (the hook ingress) served on 127.0.0.1 by the local HTTP API adapter.
The local pipeline (sandbox/pipeline.py) and the integration tests both stand on it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from ipaas_sync.destinations import ENTITY_BY_NAME, REGISTRY

from .destinations import kit, kits
from .http_api import HttpApiServer
from .ipaas import IpaasSandbox
from .local_aws import EventSourcePoller, LocalDeployment, MotoServer, PollStats, apply_environment
from .makini import SYSTEM_ID as MAKINI_SYSTEM_ID
from .ninetynine_minds import SYSTEM_ID as NINETYNINE_SYSTEM_ID
from .server import RateLimit, RateLimits, SandboxServer
from .stamped import SYSTEM_ID as STAMPED_SYSTEM_ID

# destination (iPaaS System Id) -> (platform label, customer queue, customer DLQ), for every destination the
# registry lists (each takes customers)
CUSTOMER_QUEUES = {
    kit(d).system_id: (d.display, d.queue(ENTITY_BY_NAME["customer"]), d.dlq(ENTITY_BY_NAME["customer"]))
    for d in REGISTRY
    if "customer" in d.entities
}
__all__ = ["CUSTOMER_QUEUES", "MAKINI_SYSTEM_ID", "NINETYNINE_SYSTEM_ID", "STAMPED_SYSTEM_ID", "LocalStack", "PollStats"]
# Locally a failed message comes back after `retry_delay` (1 s) instead of the visibility timeout (180 s), so the time
# a gift card retry waits while an earlier request may still be in flight (ipaas_sync.runtime.pending.IN_FLIGHT_SECONDS,
# 120 s) shrinks with it for local runs (the demo, the benchmark): longer than a local sandbox ever holds a request.
LOCAL_IN_FLIGHT_SECONDS = 3.0
# The ledger's breaker (ipaas_sync.runtime.ledger.BREAKER_SECONDS, 30 s) is per container in AWS; locally one process
# stands in for every function's containers, so one slow answer of a loaded local moto would silence the ledger of
# them all for 30 s (the demo then found no ledger entry for a record it had transferred). Locally it is 1 s.
LOCAL_LEDGER_BREAKER_SECONDS = 1.0
# The retry schedule and the circuit, time-compressed for local runs (the tests, the demo; the same code): waits of
# 1, 3, 5 s at most, parked after 30 s of failures, hops of 1 s for SQS's 15 min,
# a probe a second. A stack given its own (parameters=...) keeps them; docs/reliability.md has the defaults in AWS.
LOCAL_RETRY = {
    "RetryStepSeconds": 0.5,
    "RetryMaxDelaySeconds": 5,
    "RetryWindowSeconds": 30,
    "CircuitProbeSeconds": 1,
}
LOCAL_RETRY_HOP_SECONDS = "1"


class OutcomeCollector(logging.Handler):
    """Collects the one-line outcome each handler logs per record."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.outcomes: list[dict] = []
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(record, "outcome", None)
        with self._lock:
            self.lines.append(record.getMessage())
            if isinstance(outcome, dict):
                self.outcomes.append(outcome)

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
        return counts


def throttle_settings(partner: SandboxServer, ipaas: SandboxServer) -> dict[str, int | float]:
    """A subscription's throttle settings: the limits its partner's sandbox and the iPaaS.com sandbox enforce (none
    set where a sandbox enforces none: the settings' defaults then)."""
    out: dict[str, int | float] = {}
    for server, suffix in ((partner, ""), (ipaas, " (To iPaaS)")):
        if server.rate_limit is not None:
            out[f"API Throttle Limit{suffix}"] = server.rate_limit.limit
            out[f"API Throttle Seconds{suffix}"] = server.rate_limit.seconds
    return out


@dataclass
class LocalStack:
    retry_delay: int = 1
    moto: MotoServer | None = None
    own_moto: bool = True
    moto_process: bool = False  # the moto this stack starts runs in a child process (MotoServer(process=True))
    ipaas: IpaasSandbox = field(default_factory=IpaasSandbox)
    # Each destination's sandbox by its kit's attribute (sandbox/destinations.py; stack.ninetynine, stack.stamped,
    # ...): built from its kit unless given here (partners={"makini": MakiniSandbox(honour_filters=False)}).
    partners: dict[str, SandboxServer] = field(default_factory=dict)
    # The rate limits: None keeps each sandbox's own (the partner's, sandbox/destinations.py PARTNER_LIMITS, unless the
    # sandbox was built with another); RateLimits (the tests: TEST_LIMITS) sets every sandbox's, a sandbox given here
    # too. Either way each subscription's API Throttle Limit / Seconds are what its sandbox enforces.
    limits: RateLimits | None = None
    subscription_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    # the key iPaaS.com would send as `Authorization: Bearer` on the 99minds subscription's hook requests
    webhook_key: str = field(default_factory=lambda: f"whk-local-{uuid.uuid4().hex}")

    def __post_init__(self):
        for k in kits().values():
            if k.attribute not in self.partners:
                self.partners[k.attribute] = k.server()
        if self.limits is not None:
            for name, (calls, seconds) in self.limits.items():  # RateLimits' names are the sandboxes'
                getattr(self, name).rate_limit = RateLimit(calls, seconds)
        self.collector = OutcomeCollector()
        self.deployment: LocalDeployment | None = None
        self.handlers: dict[str, Any] = {}
        self.http_api: HttpApiServer | None = None
        self.service_logger: logging.Logger | None = None

    # -- subscriptions pointing at the sandboxes ---------------------------------------------------------
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        """Secret logical id -> subscription settings JSON, with the names iPaaS.com users know: one subscription and
        one webhook key secret per destination of the registry, pointing at its sandbox (its kit's settings)."""
        subs: dict[str, dict[str, Any]] = {}
        for destination in REGISTRY:
            k = kit(destination)
            server = self.partners[k.attribute]
            common = {"Platform": destination.platform, "Name": f"{destination.name} - Local", "iPaaS System Id": k.system_id}
            subs[destination.subscription_secret] = {
                **common,
                "iPaaS API Url": self.ipaas.url,
                "iPaaS API Token": self.ipaas.token,
                **k.settings(server),
                **throttle_settings(server, self.ipaas),
                "Concurrent Connections": 2,
                "Concurrent Batch Executions": 10,
            }
            # the webhook keys live in their own secrets (the only ones the hook ingress reads)
            subs[destination.webhook_key_secret] = {**common, "Webhook API Key": k.webhook_key or self.webhook_key}
        for logical, override in self.subscription_overrides.items():
            subs[logical] = {k: v for k, v in {**subs.get(logical, {}), **override}.items() if v is not None}
        return subs

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        # Every handler runs in this one process and shares one Powertools Metrics object (in Lambda each function is
        # its own process, one invocation at a time): concurrent invocations set the same dimension, and one
        # invocation's flush can take another's metrics, leaving it none to publish. Both warnings are artifacts of
        # running locally, not of the handlers.
        warnings.filterwarnings("ignore", message="Dimension 'Entity' has already been added")
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        if self.moto is None:
            self.moto = MotoServer(process=self.moto_process).start()
        else:
            self.own_moto = False
            requests.post(f"{self.moto.url}/moto-api/reset", timeout=10)
        apply_environment(self.moto.environment())
        # a new stack in a process that may have run one: nothing cached from the last one's moto (an SSM parameter
        # has the same name in every local stack) and the ingress publishes this stack's key fingerprints afresh
        from aws_lambda_powertools.utilities import parameters

        from ipaas_sync.ingress.hooks import publish_fingerprints

        parameters.clear_caches()
        publish_fingerprints.forget()
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_DEV", "false")
        for server in self.sandboxes():
            server.start()
        self.deployment = LocalDeployment(
            parameters={**LOCAL_RETRY, **self.parameters}, secret_values=self.subscriptions()
        ).deploy()
        functions = list(self.deployment.functions())
        environments = [self.deployment.function_environment(fn) for fn in functions]
        for env in environments:
            apply_environment(env)
        # every handler runs in this one process, with one environment: each function's own list of subscription
        # secrets (the template's least privilege; moto enforces no IAM) becomes their union here
        os.environ["SUBSCRIPTION_SECRET_ARNS"] = ",".join(
            dict.fromkeys(arn for env in environments for arn in env.get("SUBSCRIPTION_SECRET_ARNS", "").split(",") if arn)
        )
        os.environ.setdefault("RETRY_MAX_HOP_SECONDS", LOCAL_RETRY_HOP_SECONDS)
        os.environ.pop("SUBSCRIPTIONS_FILE", None)
        os.environ.pop("SUBSCRIPTIONS_JSON", None)
        self.handlers = {fn: self.deployment.load_handler(fn) for fn in functions}
        from ipaas_sync.mapping import deployed

        deployed.reset()  # a new stack is a cold start: no override read by an earlier stack in this process is kept
        self.http_api = HttpApiServer(self.deployment, self.handlers).start()
        # the handlers' logger is named after their service (POWERTOOLS_SERVICE_NAME: the stack's name in the template;
        # whatever this process had when ipaas_sync was first imported)
        from ipaas_sync.core.observability import logger

        self.service_logger = logging.getLogger(logger.name)
        self.service_logger.addHandler(self.collector)
        return self

    def stop(self) -> None:
        if self.service_logger is not None:
            self.service_logger.removeHandler(self.collector)
        if self.http_api is not None:
            self.http_api.stop()
        for server in self.sandboxes():
            server.stop()
        if self.moto is not None and self.own_moto:
            self.moto.stop()

    def sandboxes(self) -> tuple:
        return (self.ipaas, *self.partners.values())

    def __getattr__(self, name: str) -> SandboxServer:
        """A destination's sandbox by its kit's attribute: stack.ninetynine, stack.stamped, stack.makini."""
        partners = self.__dict__.get("partners") or {}
        if name in partners:
            return partners[name]
        raise AttributeError(name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- using it ----------------------------------------------------------------------------------------------
    def cli_environment(self) -> dict[str, str]:
        """Everything the `ipaas-sync` CLI needs against this stack (`make serve` writes it to .local/env.sh): the
        AWS clients pointed at moto, every subscription secret, the ledger table and the stack's name (its queues)."""
        assert self.deployment is not None
        return {
            **self.moto.environment(),
            "STACK_NAME": self.deployment.stack_name,
            "SUBSCRIPTION_SECRET_ARNS": os.environ["SUBSCRIPTION_SECRET_ARNS"],
            "LEDGER_TABLE": self.deployment.function_environment("InitializeFunction")["LEDGER_TABLE"],
            "THROTTLE_TABLE": self.deployment.function_environment("InitializeFunction")["THROTTLE_TABLE"],
        }

    # -- mapping overrides (docs/mappings.md) -----------------------------------------------------------------
    def mappings(self):  # -> ipaas_sync.mapping.overrides.OverrideStore (imported late: after the environment)
        """The stack's mapping overrides (moto SSM), as `ipaas-sync mapping deploy|rollback|history` uses them."""
        from ipaas_sync.mapping.collection import load_defaults
        from ipaas_sync.mapping.overrides import OverrideStore

        return OverrideStore(boto3.client("ssm"), f"/{self.deployment.stack_name}", load_defaults())

    def mapping_takes_effect(self) -> None:
        """What the handlers' 60-second cache age does in AWS after a deploy or a rollback: they read it again."""
        from ipaas_sync.mapping import deployed

        deployed.reset()

    def queue_url(self, logical_id: str) -> str:
        return self.deployment.physical[logical_id]["Ref"]

    def send(self, queue_logical_id: str, body: Any, attributes: dict[str, str] | None = None) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        kwargs = {}
        if attributes:
            kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        return boto3.client("sqs").send_message(QueueUrl=self.queue_url(queue_logical_id), MessageBody=text, **kwargs)[
            "MessageId"
        ]

    @property
    def hooks_url(self) -> str:
        """Where the local hook ingress listens (the template's POST /hooks route)."""
        return f"{self.http_api.url}/hooks"

    def post_hook(
        self,
        notifications: list[dict] | None = None,
        *,
        key: str | None = None,
        authorization: str | None = None,
        correlation_id: str | None = None,
        body: bytes | str | None = None,
        hook_id: str = "1",
        attempt: int = 1,
    ) -> requests.Response:
        """POST an iPaaS.com hook request to the local ingress, as iPaaS.com would: `Authorization: Bearer`
        with the stack's webhook key, or `key`; `authorization` replaces the header verbatim ("" omits it);
        `body` replaces the JSON built from `notifications`."""
        headers = {"Content-Type": "application/json"}
        auth = f"Bearer {key or self.webhook_key}" if authorization is None else authorization
        if auth:
            headers["Authorization"] = auth
        if correlation_id:
            headers["x-correlation-id"] = correlation_id
        data = body if body is not None else json.dumps({"id": hook_id, "attempt": attempt, "notifications": notifications or []})
        return requests.post(self.hooks_url, data=data, headers=headers, timeout=30)

    # -- 99minds -> iPaaS.com ---------------------------------------------------------------------------------
    @property
    def ninetynine_hook_url(self) -> str:
        """Where the 99minds subscription's webhooks go (the template's POST /hooks/99minds/{segments+} route)."""
        return f"{self.http_api.url}/hooks/99minds/{NINETYNINE_SYSTEM_ID}"

    def connect_99minds_webhooks(self) -> None:
        """Set up the 99minds sandbox's webhooks as a merchant does in 99minds (URL + the Webhook API Key)."""
        self.ninetynine.webhook_url = self.ninetynine_hook_url
        self.ninetynine.webhook_key = self.webhook_key

    def post_99minds_hook(
        self, event: str, record_id: str, *, key: str | None = None, body: bytes | str | None = None, path: str | None = None
    ) -> requests.Response:
        """POST one 99minds webhook (the default shape: Bearer key, {"scope", "external_id"})."""
        data = body if body is not None else json.dumps({"scope": event, "external_id": record_id})
        return requests.post(
            f"{self.http_api.url}{path}" if path else self.ninetynine_hook_url,
            data=data,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key or self.webhook_key}"},
            timeout=30,
        )

    def forward_ipaas_hooks(self) -> requests.Response | None:
        """Post what iPaaS.com's outbound hooks would fire for the writes made into it (the iPaaS.com sandbox's
        outbox) to the hook ingress, for the 99minds subscription: the way back of an echo loop."""
        fired = self.ipaas.take_outbox()
        if not fired:
            return None
        return self.post_hook(
            [{**n, "destination": NINETYNINE_SYSTEM_ID, "tracking_guid": f"echo-{n['id']}"} for n in fired],
            hook_id=f"echo-{uuid.uuid4().hex[:8]}",
        )

    def invoke(self, function: str, event: dict, timeout: int | None = None) -> dict:
        """Invoke a handler once, directly, with an event (as `sam local invoke` would)."""
        from .local_aws import LambdaContext

        ctx = LambdaContext(function, timeout or self.deployment.function_timeout(function))
        return self.handlers[function](event, ctx)

    def drain(self, *, max_seconds: float = 60, functions: list[str] | None = None, on_batch=None, halt=None) -> PollStats:
        handlers = {k: v for k, v in self.handlers.items() if functions is None or k in functions}
        return EventSourcePoller(self.deployment, handlers, retry_delay=self.retry_delay, on_batch=on_batch).run(
            max_seconds=max_seconds, halt=halt
        )

    def messages(self, queue_logical_id: str, max_messages: int = 100) -> list[dict]:
        """Peek at a queue's messages (received with visibility 0, then released)."""
        sqs = boto3.client("sqs")
        out: list[dict] = []
        seen: set[str] = set()
        for _ in range(max(1, max_messages // 10 + 2)):
            resp = sqs.receive_message(
                QueueUrl=self.queue_url(queue_logical_id),
                MaxNumberOfMessages=10,
                VisibilityTimeout=5,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            if not batch:
                break
            for m in batch:
                seen.add(m["MessageId"])
                out.append(m)
        for m in out:
            sqs.change_message_visibility(
                QueueUrl=self.queue_url(queue_logical_id), ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
        return out

    def outcomes(self, status: str | None = None, destination: str | None = None, *, deferrals: bool = False) -> list[dict]:
        """The transfer outcomes logged so far. A deferral (the record went back to its queue until its rate-limit
        slot) is not how a record ended: left out unless asked for (status="deferred" or deferrals=True)."""
        return [
            o
            for o in self.collector.outcomes
            if (status is None or o["status"] == status)
            and (destination is None or o.get("destination") == destination)
            and (deferrals or status == "deferred" or o["status"] != "deferred")
        ]
