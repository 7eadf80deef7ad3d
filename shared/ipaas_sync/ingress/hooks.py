"""The hook ingress: an iPaaS.com hook request in, each of its notifications on the queue that serves it.

It reads the webhook key secrets only (settings.WebhookKeySettings), never a partner credential. The checks, in
order; each answer is final and nothing is queued unless every check passed:

1. `Authorization: Bearer <key>` is the current or previous `Webhook API Key` of at least one subscription
   (`authenticate`: constant-time comparison with every key of every subscription)             else 401
2. the body is at most `max_body_bytes` (measured before it is parsed; never more than the SQS message size,
   clients/queues.SQS_MAX_MESSAGE_BYTES, the queues' MaximumMessageSize)                          else 413
3. the body is a `HookRequest` (the same notification model the transfer handlers use)
                                                       else 400 naming the first invalid notification
4. for every notification: the key is a webhook key of its `destination`                  else 401 (the same
   answer whether the destination exists or not: nothing about it is revealed before authentication)
                           no field holds a webhook key value (the transfer functions cannot read the keys,
                           so could not mask one: none is ever queued)                 else 400 naming it
                           a queue is routed for (entity, the subscription's platform) else 400 naming it
                           its message fits MAX_BODY_BYTES (the SQS message size, less
                           room for a DLQ entry's reason)                              else 413 naming it
5. SendMessageBatch to each queue (bounded retries of failed entries)     202 {"accepted": n}, else 503

Unauthenticated is always 401 with the same body and header, whatever went wrong (no key, another scheme, a wrong
key, a key of another subscription, an unknown destination, a subscription whose key is not set yet or invalid),
so a caller learns nothing from it and cannot trip the 5xx alarm. Only webhook key secrets that cannot be read at
all answer 503 (nothing can be authenticated; iPaaS.com retries). A key is never logged, echoed or put in an error.

Each queued message is the notification's JSON (the TransferMessage shape) with its tracking guid: the
notification's own, else the request's `x-correlation-id` header.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from pydantic import ValidationError

from ..core.errors import ConfigurationError, TransferError
from ..core.models.notification import ENTITIES, HookRequest
from ..core.observability import MetricUnit, bound, logger, metrics, redact
from ..core.settings import SubscriptionRegistry, WebhookKeySettings, load_webhook_keys
from ..platform.queues import MAX_BODY_BYTES, SQS_MAX_MESSAGE_BYTES

DEFAULT_MAX_BODY_BYTES = SQS_MAX_MESSAGE_BYTES
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
                raise ConfigurationError(f"QUEUE_ROUTES entry '{key}': expected '<{'|'.join(ENTITIES)}>:<platform>' -> queue url")
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
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", **self.headers},
            # masked and bounded like every log line: an answer never echoes a registered secret value
            "body": redact(json.dumps(bound(self.body))),
            "isBase64Encoded": False,
        }


class ReplyDetails(TypedDict, total=False):
    """HookReply's optional fields, as unauthorized() and _unavailable() pass them on."""

    hook_id: str | None
    notifications: int
    queued: dict[str, int]
    tracking_guids: tuple[str, ...]
    skipped: int


class HookIdentity(TypedDict):
    """Which hook request a reply answers (every reply to a parsed request carries it)."""

    hook_id: str | None
    notifications: int


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


@dataclass(frozen=True)
class Authenticated:
    """The subscriptions (iPaaS System Id -> their webhook key settings) whose keys the presented key is; false
    (no subscriptions) when the request is unauthenticated."""

    subscriptions: Mapping[str, WebhookKeySettings]
    # subscriptions whose webhook key settings are invalid, so never matched: for the log line, never the answer
    broken: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.subscriptions)

    def opens(self, destination: str) -> bool:
        return destination in self.subscriptions

    def why_not(self) -> str:
        """For the log line of a 401 (never for the answer)."""
        note = f"; webhook key settings invalid for subscription(s) {', '.join(self.broken)}" if self.broken else ""
        return f"the key matches no subscription{note}"


def authenticate(
    authorization: str | None,
    *,
    destination: str | None = None,
    keys: Callable[[], SubscriptionRegistry[WebhookKeySettings]] = load_webhook_keys,
) -> Authenticated:
    """The one authentication of a hook request: the `Authorization` header's bearer key against every webhook key
    (current and `(Previous)`) of every subscription, in constant time (no early exit, so the timing tells nothing
    of which key, or whether `destination` exists). A false result means unauthenticated, which the caller always
    answers with `unauthorized()` (401); with `destination`, it is false unless the key is one of that
    subscription's, so an unknown destination and a wrong key are the same answer. Raises ConfigurationError only when the webhook
    key secrets cannot be read at all (answer 503). Nothing about a destination may be revealed before this."""
    presented = _bearer(authorization)
    registry = keys()  # ConfigurationError: unreadable (503)
    opened: dict[str, WebhookKeySettings] = {}
    broken: list[str] = []
    for system_id in registry.system_ids():
        try:
            settings = registry.get(system_id)
        except ConfigurationError:
            broken.append(system_id)
            continue
        matched = False
        for key in settings.webhook_keys():
            matched |= hmac.compare_digest(presented or b"\0", key.encode("utf-8"))
        if matched and presented is not None:
            opened[system_id] = settings
    if destination is not None and destination not in opened:
        opened = {}
    return Authenticated(opened, tuple(broken))


class HookIngress:
    def __init__(
        self,
        *,
        routes: QueueRoutes,
        send: Sender,
        keys: Callable[[], SubscriptionRegistry[WebhookKeySettings]] = load_webhook_keys,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ):
        self.routes = routes
        self.send = send
        self.keys = keys
        # one limit: a body larger than an SQS message could not be queued (its notification would get 503 forever)
        self.max_body_bytes = min(max_body_bytes, SQS_MAX_MESSAGE_BYTES)

    # -- the answer ---------------------------------------------------------------------------------------
    def handle(self, headers: Mapping[str, str], body: bytes) -> HookReply:
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            auth = authenticate(headers.get("authorization"), keys=self.keys)
        except ConfigurationError as exc:
            return _unavailable(f"webhook key settings cannot be read: {exc.message}")
        if not auth:
            return unauthorized("no bearer credentials" if _bearer(headers.get("authorization")) is None else auth.why_not())

        if len(body) > self.max_body_bytes:
            return HookReply(
                413,
                {"message": f"the body is {len(body)} bytes; at most {self.max_body_bytes} are accepted"},
                reason="body too large",
            )
        try:
            request = HookRequest.model_validate_json(body)
        except ValidationError as exc:
            message, extra = _first_invalid(exc)
            return HookReply(400, {"message": message, **extra}, reason=message)
        hook: HookIdentity = {"hook_id": request.id, "notifications": len(request.notifications)}

        correlation = (headers.get("x-correlation-id") or "").strip()[:MAX_CORRELATION_ID_CHARS] or None
        by_queue: dict[str, list[str]] = {}
        route_of: dict[str, str] = {}
        guids: list[str] = []
        webhook_keys = registry_keys(self.keys)
        for index, note in enumerate(request.notifications):
            where = f"notification {index} ({note.describe()})"
            if not auth.opens(note.destination):  # unknown or another subscription's: the same 401
                return unauthorized(f"{where}: the key is not a webhook key of its destination", **hook)
            platform = auth.subscriptions[note.destination].platform
            queue = self.routes.queue_for(note.entity, platform)
            if queue is None:
                message = (
                    f"{where}: no queue for {note.entity} notifications to platform '{platform}' "
                    f"(destination '{note.destination}') in this deployment"
                )
                return HookReply(400, {"message": message, "notification": index, "field": "scope"}, reason=message, **hook)
            guid = note.tracking_guid or correlation
            if carries_key([note.model_dump(), guid], webhook_keys):
                return _carries_key_reply(f"notification {index}", index, hook)
            if guid:
                guids.append(guid)
            message_body = json.dumps(note.model_copy(update={"tracking_guid": guid}).model_dump(exclude_none=True))
            size = len(message_body.encode("utf-8"))  # ASCII (escaped): only characters SQS accepts in a body
            if size > MAX_BODY_BYTES:  # room is kept for the attributes of a DLQ entry (its reason)
                message = f"{where}: {size} bytes as a queue message; at most {MAX_BODY_BYTES} are accepted"
                return HookReply(413, {"message": message, "notification": index}, reason=message, **hook)
            by_queue.setdefault(queue, []).append(message_body)
            route_of[queue] = f"{note.entity}:{platform}"

        queued: dict[str, int] = {}
        for queue, bodies in by_queue.items():
            try:
                queued[route_of[queue]] = queued.get(route_of[queue], 0) + self.send(queue, bodies)
            except Exception as exc:  # noqa: BLE001 - any failure to queue is answered 5xx: iPaaS.com retries
                reason = exc.message if isinstance(exc, TransferError) else f"{type(exc).__name__}: {exc}"[:300]
                return _unavailable(
                    f"not all notifications could be queued ({reason})", queued=queued, tracking_guids=tuple(guids), **hook
                )
        accepted = sum(queued.values())
        return HookReply(
            202,
            {"accepted": accepted, **({"id": request.id} if request.id else {})},
            reason=f"{accepted} notification(s) queued",
            queued=queued,
            tracking_guids=tuple(guids),
            **hook,
        )


# -- helpers -------------------------------------------------------------------------------------------------
def _bearer(value: str | None) -> bytes | None:
    if not value or len(value) > MAX_AUTHORIZATION_CHARS:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("utf-8")


def _first_invalid(exc: ValidationError) -> tuple[str, dict[str, Any]]:
    """The request-level errors if any, else every failing field of the first invalid notification."""
    errors = exc.errors(include_input=False, include_url=False)
    top = [e for e in errors if not (len(e["loc"]) >= 2 and e["loc"][0] == "notifications" and isinstance(e["loc"][1], int))]
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


def registry_keys(keys: Callable[[], SubscriptionRegistry[WebhookKeySettings]]) -> frozenset[str]:
    """Every webhook key value (current and previous) of every readable subscription."""
    registry = keys()
    found: set[str] = set()
    for system_id in registry.system_ids():
        try:
            found.update(registry.get(system_id).webhook_keys())
        except ConfigurationError:
            continue
    return frozenset(found)


def carries_key(value: Any, keys: frozenset[str]) -> bool:
    """Whether any string in `value` (a parsed notification, at most the parser's depth) holds a webhook key value.
    The transfer functions cannot read the webhook keys (least privilege), so they could not mask one: none is
    ever queued."""
    if isinstance(value, str):
        return any(key in value for key in keys)
    if isinstance(value, dict):
        return any(carries_key(k, keys) or carries_key(v, keys) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(carries_key(v, keys) for v in value)
    return False


def _carries_key_reply(where: str, index: int | None, hook: HookIdentity | None = None) -> HookReply:
    message = f"{where}: a field holds a webhook API key value; refused, a key is never queued"
    extra = {"notification": index} if index is not None else {}
    if hook is None:
        return HookReply(400, {"message": message, **extra}, reason=message)
    return HookReply(400, {"message": message, **extra}, reason=message, **hook)


def unauthorized(reason: str, **kw: Unpack[ReplyDetails]) -> HookReply:
    """The one 401 answer (same body and header whatever went wrong); `reason` is for the log line only."""
    return HookReply(401, dict(UNAUTHORIZED), reason=reason, headers=dict(UNAUTHORIZED_HEADERS), **kw)


def _unavailable(reason: str, **kw: Unpack[ReplyDetails]) -> HookReply:
    return HookReply(503, {"message": "the notifications were not accepted; retry later"}, reason=reason, **kw)


def record(reply: HookReply) -> None:
    """One JSON log line and the metrics of one answered hook request."""
    data = {
        "status": reply.status,
        "reason": reply.reason,
        "hook_id": reply.hook_id,
        "notifications": reply.notifications,
        "queued": reply.queued,
        "tracking_guids": list(reply.tracking_guids[:50]),
    }
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
    loudly), HOOK_MAX_BODY_BYTES (default and at most 256 KiB, the SQS message size) and an SQS client with
    short timeouts (the answer must come back within API Gateway's 30 s)."""
    global _default
    key = tuple(os.environ.get(v) for v in ("QUEUE_ROUTES", "HOOK_MAX_BODY_BYTES", "AWS_ENDPOINT_URL"))
    if _default is None or _default[0] != key:
        import boto3
        from botocore.config import Config

        from ..platform.queues import send_all

        client = boto3.client(
            "sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
        )
        _default = (
            key,
            HookIngress(
                routes=QueueRoutes.parse(os.environ.get("QUEUE_ROUTES")),
                send=lambda queue_url, bodies: send_all(client, queue_url, bodies),
                max_body_bytes=int(os.environ.get("HOOK_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES),
            ),
        )
    return _default[1]


def _parse_json(body: bytes) -> Any:
    """The body as JSON, or None for any body that cannot be read as such (not JSON, not UTF-8, nested deeper than
    the parser goes, a number too long): whatever it raises is the caller's 400 or 401, never a 500."""
    try:
        return json.loads(body)
    except Exception:  # noqa: BLE001 - RecursionError, ValueError, UnicodeDecodeError, ...: all the same answer
        return None
