"""The hook ingress: an iPaaS.com hook request in, each of its notifications on the queue that serves it.

The checks, in order; each answer is final and nothing is queued unless every check passed:

1. `Authorization: Bearer <key>` matches the current or previous `Webhook API Key` of at least one
   configured subscription (constant-time comparison)                                   else 401
2. the body is at most `max_body_bytes` (measured before it is parsed)                   else 413
3. the body is a `HookRequest` (the same notification model the transfer handlers use)
                                                       else 400 naming the first invalid notification
4. for every notification: its `destination` is a configured subscription              else 400 naming it
                           that subscription accepts the key                           else 401
                           a queue is routed for (entity, the subscription's platform) else 400 naming it
5. SendMessageBatch to each queue (bounded retries of failed entries)     202 {"accepted": n}, else 503

Every 401 has the same body and header, whatever went wrong (no key, another scheme, a wrong key, a key of
another subscription), so a caller learns nothing from it; an unauthenticated caller never gets past 1 and
so never sees a body-dependent answer. Settings that cannot be read, or a subscription whose settings are
invalid (its key cannot be checked, and may be the one presented), answer 503: iPaaS.com retries, and
nothing is acknowledged that is not on a queue. A key is never logged, echoed or put in an error.

Each queued message is the notification's JSON (the TransferMessage shape) with its tracking guid: the
notification's own, else the request's `x-correlation-id` header.
"""
from __future__ import annotations

import base64
import hmac
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from .errors import ConfigurationError, TransferError
from .models.notification import ENTITIES, HookRequest
from .observability import MetricUnit, logger, metrics
from .settings import SubscriptionRegistry, SubscriptionSettings, load_registry

DEFAULT_MAX_BODY_BYTES = 256 * 1024
MAX_AUTHORIZATION_CHARS = 4096
MAX_CORRELATION_ID_CHARS = 128
UNAUTHORIZED = {"message": "Unauthorized"}
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="ipaas-sync hooks"'}

Sender = Callable[[str, list[str]], int]


@dataclass(frozen=True)
class QueueRoutes:
    """(entity, platform) -> queue URL. Parsed from QUEUE_ROUTES: {"customer:99minds": "<queue url>", ...}."""

    table: Mapping[tuple[str, str], str]

    @classmethod
    def parse(cls, text: str | None) -> QueueRoutes:
        try:
            raw = json.loads(text or "")
        except ValueError:
            raise ConfigurationError("QUEUE_ROUTES is not valid JSON") from None
        if not isinstance(raw, dict) or not raw:
            raise ConfigurationError('QUEUE_ROUTES must be a JSON object {"<entity>:<platform>": "<queue url>"}')
        table: dict[tuple[str, str], str] = {}
        for key, url in raw.items():
            entity, _, platform = str(key).partition(":")
            if entity not in ENTITIES or not platform or not isinstance(url, str) or not url.strip():
                raise ConfigurationError(
                    f"QUEUE_ROUTES entry '{key}': expected '<{'|'.join(ENTITIES)}>:<platform>' -> queue url")
            table[(entity, platform)] = url.strip()
        return cls(table)

    def queue_for(self, entity: str, platform: str) -> str | None:
        return self.table.get((entity, platform))


@dataclass(frozen=True)
class HookReply:
    """The answer to one hook request, and what its log line says (`reason` may be more precise than the
    body, e.g. why a 401 was given; it never holds a key)."""

    status: int
    body: dict[str, Any]
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    hook_id: str | None = None
    notifications: int = 0
    queued: dict[str, int] = field(default_factory=dict)
    tracking_guids: tuple[str, ...] = ()
    skipped: int = 0  # events accepted but deliberately not transferred (99minds webhooks of other events)

    def http_api_response(self) -> dict[str, Any]:
        """The HttpApi (payload format 2.0) response."""
        return {"statusCode": self.status, "headers": {"Content-Type": "application/json", **self.headers},
                "body": json.dumps(self.body), "isBase64Encoded": False}


def http_api_request(event: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers (lower-cased names) and the raw body bytes of an HttpApi (payload format 2.0) event."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return headers, base64.b64decode(body, validate=True)
        except ValueError:
            return headers, b"\xff"  # not base64: fails as a malformed body (400), after the key check
    return headers, body.encode("utf-8")


class HookIngress:
    def __init__(self, *, routes: QueueRoutes, send: Sender,
                 registry: Callable[[], SubscriptionRegistry] = load_registry,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.routes = routes
        self.send = send
        self.registry = registry
        self.max_body_bytes = max_body_bytes

    # -- the answer ---------------------------------------------------------------------------------------
    def handle(self, headers: Mapping[str, str], body: bytes) -> HookReply:
        headers = {k.lower(): v for k, v in headers.items()}
        key = _bearer(headers.get("authorization"))
        if key is None:
            return _unauthorized("no bearer credentials")
        try:
            registry = self.registry()
            usable, broken = _subscriptions(registry)
        except ConfigurationError as exc:
            return _unavailable(f"subscription settings cannot be read: {exc.message}")
        accepting = {sid for sid, settings in usable.items() if _accepts(settings, key)}
        if not accepting:
            if broken:
                # the key may belong to a subscription whose settings are invalid: retry, do not refuse
                return _unavailable("the key matches no usable subscription and these subscriptions have "
                                    "invalid settings: " + "; ".join(e.message for e in broken.values()))
            return _unauthorized("the key matches no subscription")

        if len(body) > self.max_body_bytes:
            return HookReply(413, {"message": f"the body is {len(body)} bytes; at most {self.max_body_bytes} "
                                              "are accepted"}, reason="body too large")
        try:
            request = HookRequest.model_validate_json(body)
        except ValidationError as exc:
            message, extra = _first_invalid(exc)
            return HookReply(400, {"message": message, **extra}, reason=message)
        hook = {"hook_id": request.id, "notifications": len(request.notifications)}

        correlation = (headers.get("x-correlation-id") or "").strip()[:MAX_CORRELATION_ID_CHARS] or None
        by_queue: dict[str, list[str]] = {}
        route_of: dict[str, str] = {}
        guids: list[str] = []
        for index, note in enumerate(request.notifications):
            where = f"notification {index} ({note.describe()})"
            if note.destination not in usable and note.destination not in broken:
                message = f"{where}: unknown destination '{note.destination[:40]}' (no subscription has this " \
                          "iPaaS System Id)"
                return HookReply(400, {"message": message, "notification": index, "field": "destination"},
                                 reason=message, **hook)
            if note.destination in broken:
                return _unavailable(f"{where}: {broken[note.destination].message}", **hook)
            if note.destination not in accepting:
                return _unauthorized(f"{where}: the key is not a webhook key of destination "
                                     f"'{note.destination}'", **hook)
            platform = usable[note.destination].platform
            queue = self.routes.queue_for(note.entity, platform)
            if queue is None:
                message = f"{where}: no queue for {note.entity} notifications to platform '{platform}' " \
                          f"(destination '{note.destination}') in this deployment"
                return HookReply(400, {"message": message, "notification": index, "field": "scope"},
                                 reason=message, **hook)
            guid = note.tracking_guid or correlation
            if guid:
                guids.append(guid)
            message_body = note.model_copy(update={"tracking_guid": guid}).model_dump(exclude_none=True)
            by_queue.setdefault(queue, []).append(json.dumps(message_body))
            route_of[queue] = f"{note.entity}:{platform}"

        queued: dict[str, int] = {}
        for queue, bodies in by_queue.items():
            try:
                queued[route_of[queue]] = queued.get(route_of[queue], 0) + self.send(queue, bodies)
            except Exception as exc:  # noqa: BLE001 - any failure to queue is answered 5xx: iPaaS.com retries
                reason = exc.message if isinstance(exc, TransferError) else f"{type(exc).__name__}: {exc}"[:300]
                return _unavailable(f"not all notifications could be queued ({reason})", queued=queued,
                                    tracking_guids=tuple(guids), **hook)
        accepted = sum(queued.values())
        return HookReply(202, {"accepted": accepted, **({"id": request.id} if request.id else {})},
                         reason=f"{accepted} notification(s) queued", queued=queued,
                         tracking_guids=tuple(guids), **hook)


# -- helpers -------------------------------------------------------------------------------------------------
def _bearer(value: str | None) -> bytes | None:
    if not value or len(value) > MAX_AUTHORIZATION_CHARS:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("utf-8")


def _accepts(settings: SubscriptionSettings, presented: bytes) -> bool:
    """Constant-time comparison with every accepted key (no early exit: timing tells nothing of which)."""
    matched = False
    for key in settings.webhook_keys():
        matched |= hmac.compare_digest(presented, key.encode("utf-8"))
    return matched


def _subscriptions(registry: SubscriptionRegistry
                   ) -> tuple[dict[str, SubscriptionSettings], dict[str, ConfigurationError]]:
    """Subscriptions that can take hooks (valid settings with a webhook key), and those that cannot be read."""
    usable: dict[str, SubscriptionSettings] = {}
    broken: dict[str, ConfigurationError] = {}
    for system_id in registry.system_ids():
        try:
            settings = registry.get(system_id)
        except ConfigurationError as exc:
            broken[system_id] = exc
            continue
        if settings.webhook_keys():
            usable[system_id] = settings
        else:
            broken[system_id] = ConfigurationError(
                f"subscription '{settings.name}': missing setting 'Webhook API Key' (required for hook requests)")
    return usable, broken


def _first_invalid(exc: ValidationError) -> tuple[str, dict[str, Any]]:
    """The request-level errors if any, else every failing field of the first invalid notification."""
    errors = exc.errors(include_input=False, include_url=False)
    top = [e for e in errors if not (len(e["loc"]) >= 2 and e["loc"][0] == "notifications"
                                     and isinstance(e["loc"][1], int))]
    if top:
        first = top[0]
        if first["type"] == "json_invalid":
            return f"the body is not valid JSON ({first['msg']})", {}
        loc = ".".join(str(p) for p in first["loc"]) or "(body)"
        return f"hook request: field '{loc}': {first['msg']}", {"field": loc}
    index = min(e["loc"][1] for e in errors)
    fields = [e for e in errors if e["loc"][1] == index]
    names = [".".join(str(p) for p in e["loc"][2:]) or "(notification)" for e in fields]
    detail = "; ".join(f"field '{n}': {e['msg']}" for n, e in zip(names, fields, strict=True))
    return f"notification {index}: {detail}", {"notification": index, "field": names[0]}


def _unauthorized(reason: str, **kw) -> HookReply:
    return HookReply(401, dict(UNAUTHORIZED), reason=reason, headers=dict(UNAUTHORIZED_HEADERS), **kw)


def _unavailable(reason: str, **kw) -> HookReply:
    return HookReply(503, {"message": "the notifications were not accepted; retry later"}, reason=reason, **kw)


def record(reply: HookReply) -> None:
    """One JSON log line and the metrics of one answered hook request."""
    data = {"status": reply.status, "reason": reply.reason, "hook_id": reply.hook_id,
            "notifications": reply.notifications, "queued": reply.queued,
            "tracking_guids": list(reply.tracking_guids[:50])}
    if reply.status == 202:
        logger.info(f"hook request accepted: {reply.reason}", extra={"hook": data})
    elif reply.status >= 500:
        logger.error(f"hook request answered {reply.status}: {reply.reason}", extra={"hook": data})
    else:
        logger.warning(f"hook request answered {reply.status}: {reply.reason}", extra={"hook": data})
    metrics.add_dimension(name="Status", value=str(reply.status))
    metrics.add_metric(name="HookRequests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="HookNotificationsQueued", unit=MetricUnit.Count, value=sum(reply.queued.values()))
    if reply.skipped:
        metrics.add_metric(name="HookEventsSkipped", unit=MetricUnit.Count, value=reply.skipped)


# -- the deployed ingress ----------------------------------------------------------------------------------
_default: tuple[tuple[str | None, ...], HookIngress] | None = None


def default_ingress() -> HookIngress:
    """Built from the function's environment, once per container (rebuilt only if that environment changes,
    which happens locally, never in Lambda): QUEUE_ROUTES (required; an invalid value fails every invocation
    loudly), HOOK_MAX_BODY_BYTES (default 256 KiB) and an SQS client with short timeouts (the answer must
    come back within API Gateway's 30 s)."""
    global _default
    key = tuple(os.environ.get(v) for v in ("QUEUE_ROUTES", "HOOK_MAX_BODY_BYTES", "AWS_ENDPOINT_URL"))
    if _default is None or _default[0] != key:
        import boto3
        from botocore.config import Config

        from .clients.queues import send_all

        client = boto3.client("sqs", config=Config(connect_timeout=2, read_timeout=5,
                                                   retries={"mode": "standard", "max_attempts": 3}))
        _default = (key, HookIngress(
            routes=QueueRoutes.parse(os.environ.get("QUEUE_ROUTES")),
            send=lambda queue_url, bodies: send_all(client, queue_url, bodies),
            max_body_bytes=int(os.environ.get("HOOK_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)))
    return _default[1]


# -- 99minds webhooks: POST /hooks/99minds/{iPaaS System Id}[/...] -------------------------------------------
# The same checks, answers and log line as iPaaS.com hook requests (above): the subscription's webhook keys
# (current and previous, constant time: _accepts), 401 with one body whatever went wrong, 413, 400 naming the
# bad part, 202, 503. What differs is only where the key, the event name and the record id are read: 99minds
# publishes neither its payload nor the header carrying the key, so (like iPaaS.com's dynamic webhook
# receiver) the 99minds subscription's settings name each location: "header:<name>", "body:<JSON path>" or
# "url:<n>" (the n-th path segment after /hooks/99minds/{id}/, from 1). A webhook carries identity only: the
# loyalty handler fetches the record from 99minds.
NINETYNINE_HOOK_PREFIX = "/hooks/99minds/"
MAX_PATH_SEGMENTS = 8


def _location(text: str) -> tuple[str, str]:
    kind, _, where = text.partition(":")
    return kind, where.strip()


def json_path(document: Any, path: str) -> Any:
    """A value by a simple JSONPath (`$.a.b`, `$.items[0].id`); None when any step is missing. Written by hand:
    three field locations do not justify a JSONPath dependency in the layer."""
    if not path.startswith("$"):
        return None
    node = document
    for name, index in ((m.group(1), m.group(2)) for m in _JSON_STEP.finditer(path[1:])):
        if name is not None:
            node = node.get(name) if isinstance(node, dict) else None
        else:
            position = int(index)
            node = node[position] if isinstance(node, list) and -len(node) <= position < len(node) else None
        if node is None:
            return None
    return node


_JSON_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]")


def _read(location: str, headers: Mapping[str, str], document: Any, segments: list[str]) -> str | None:
    kind, where = _location(location)
    if kind == "header":
        value = headers.get(where.lower())
        if value is not None and where.lower() == "authorization":
            token = _bearer(value)
            return token.decode("utf-8") if token is not None else None
        return value.strip() if value and value.strip() else None
    if kind == "url":
        index = int(where) if where.isdigit() else 0
        value = unquote(segments[index - 1]).strip() if 1 <= index <= len(segments) else ""
        return value or None
    value = json_path(document, where)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def kind_of(event: str, settings: Any) -> str | None:
    """loyalty_transaction / customer for the subscription's event names (case-insensitive), else None."""
    name = event.strip().lower()
    if name in {e.strip().lower() for e in settings.loyalty_transaction_events}:
        return "loyalty_transaction"
    if name in {e.strip().lower() for e in settings.customer_events}:
        return "customer"
    return None


class NinetyNineMindsHookIngress:
    """A 99minds webhook in, one InboundMessage on the 99minds -> iPaaS.com queue."""

    def __init__(self, *, queue_url: str, send: Sender, registry: Callable[[], SubscriptionRegistry] = load_registry,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.queue_url = queue_url
        self.send = send
        self.registry = registry
        self.max_body_bytes = max_body_bytes

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> HookReply:
        from .models.inbound import InboundMessage

        headers = {k.lower(): v for k, v in headers.items()}
        segments = [s for s in path[len(NINETYNINE_HOOK_PREFIX):].split("/")][:MAX_PATH_SEGMENTS + 1] \
            if path.startswith(NINETYNINE_HOOK_PREFIX) else [""]
        system_id, segments = segments[0].strip(), segments[1:]
        try:
            usable, broken = _subscriptions(self.registry())
        except ConfigurationError as exc:
            return _unavailable(f"subscription settings cannot be read: {exc.message}")
        settings = usable.get(system_id)
        if settings is None or settings.platform != "99minds":
            if broken:
                # as for /hooks: the key cannot be checked against a subscription whose settings are invalid and
                # may be its key: retry, do not refuse (the answer does not tell which id is broken)
                return _unavailable(f"99minds webhook for '{system_id[:40]}': not a usable 99minds subscription, "
                                    "and these have invalid settings: " + "; ".join(e.message for e in broken.values()))
            return _unauthorized(f"99minds webhook: '{system_id[:40]}' is not a 99minds subscription")

        key_in_body = _location(settings.webhook_key_location)[0] == "body"
        document: Any = None
        if key_in_body:  # the key cannot be read without parsing: bound the body first
            if len(body) > self.max_body_bytes:
                return _too_large(len(body), self.max_body_bytes)
            try:
                document = json.loads(body)
            except ValueError:
                return _unauthorized("99minds webhook: the body (which carries the key) is not JSON")
        key = _read(settings.webhook_key_location, headers, document, segments)
        if key is None:
            return _unauthorized(f"99minds webhook: no key at {settings.webhook_key_location}")
        if not _accepts(settings, key.encode("utf-8")):
            return _unauthorized(f"99minds webhook: the key is not a webhook key of destination '{system_id}'")

        if len(body) > self.max_body_bytes:
            return _too_large(len(body), self.max_body_bytes)
        if document is None and any(_location(loc)[0] == "body" for loc in (
                settings.webhook_event_location, settings.webhook_record_id_location)):
            try:
                document = json.loads(body)
            except ValueError as exc:
                message = f"the body is not valid JSON ({type(exc).__name__})"
                return HookReply(400, {"message": message}, reason=message)
        event = _read(settings.webhook_event_location, headers, document, segments)
        if event is None:
            message = f"no event name at {settings.webhook_event_location}"
            return HookReply(400, {"message": message, "field": settings.webhook_event_location}, reason=message)
        kind = kind_of(event, settings)
        if kind is None:
            reason = f"99minds event '{event[:80]}' is not transferred; skipped"
            return HookReply(202, {"accepted": 0, "skipped": event[:80]}, reason=reason, skipped=1)
        record_id = _read(settings.webhook_record_id_location, headers, document, segments)
        if record_id is None:
            message = f"no record id at {settings.webhook_record_id_location}"
            return HookReply(400, {"message": message, "field": settings.webhook_record_id_location},
                             reason=message)
        guid = (headers.get("x-correlation-id") or "").strip()[:MAX_CORRELATION_ID_CHARS] or str(uuid.uuid4())
        try:
            message_body = InboundMessage(kind=kind, id=record_id, destination=system_id, event=event,
                                          tracking_guid=guid)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            field_name = ".".join(str(p) for p in first["loc"])
            message = f"99minds {kind} webhook: field '{field_name}': {first['msg']}"
            return HookReply(400, {"message": message, "field": field_name}, reason=message)
        route = f"{kind}:99minds->ipaas"
        try:
            queued = self.send(self.queue_url, [message_body.model_dump_json(exclude_none=True)])
        except Exception as exc:  # noqa: BLE001 - any failure to queue is answered 5xx: the sender retries
            reason = exc.message if isinstance(exc, TransferError) else f"{type(exc).__name__}: {exc}"[:300]
            return _unavailable(f"the webhook could not be queued ({reason})", tracking_guids=(guid,))
        return HookReply(202, {"accepted": queued}, reason=f"99minds {kind} {record_id[:80]} queued ({event[:80]})",
                         notifications=1, queued={route: queued}, tracking_guids=(guid,))


def _too_large(size: int, limit: int) -> HookReply:
    return HookReply(413, {"message": f"the body is {size} bytes; at most {limit} are accepted"},
                     reason="body too large")


_default_99minds: tuple[tuple[str | None, ...], NinetyNineMindsHookIngress] | None = None


def default_99minds_ingress() -> NinetyNineMindsHookIngress:
    """From the function's environment: FROM_99MINDS_QUEUE_URL (the 99minds -> iPaaS.com queue) and the same
    body limit and SQS client settings as default_ingress()."""
    global _default_99minds
    key = tuple(os.environ.get(v) for v in ("FROM_99MINDS_QUEUE_URL", "HOOK_MAX_BODY_BYTES", "AWS_ENDPOINT_URL"))
    if _default_99minds is None or _default_99minds[0] != key:
        import boto3
        from botocore.config import Config

        from .clients.queues import send_all

        queue_url = (os.environ.get("FROM_99MINDS_QUEUE_URL") or "").strip()
        if not queue_url:
            raise ConfigurationError("FROM_99MINDS_QUEUE_URL is not set (the 99minds -> iPaaS.com queue)")
        client = boto3.client("sqs", config=Config(connect_timeout=2, read_timeout=5,
                                                   retries={"mode": "standard", "max_attempts": 3}))
        _default_99minds = (key, NinetyNineMindsHookIngress(
            queue_url=queue_url, send=lambda url, bodies: send_all(client, url, bodies),
            max_body_bytes=int(os.environ.get("HOOK_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)))
    return _default_99minds[1]
