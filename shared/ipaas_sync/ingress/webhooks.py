"""Destination webhooks into iPaaS.com: POST /hooks/99minds/{iPaaS System Id}[/...] -> the 99minds -> iPaaS.com queue."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from ..core.errors import ConfigurationError, TransferError
from ..core.settings import SubscriptionRegistry, WebhookKeySettings, load_webhook_keys
from ..destinations.ninetynine_minds.settings import NinetyNineMindsWebhookSettings
from ..platform.queues import SQS_MAX_MESSAGE_BYTES
from .hooks import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_CORRELATION_ID_CHARS,
    HookReply,
    Sender,
    _bearer,
    _carries_key_reply,
    _parse_json,
    _unavailable,
    authenticate,
    carries_key,
    registry_keys,
    unauthorized,
)

# -- 99minds webhooks: POST /hooks/99minds/{iPaaS System Id}[/...] -------------------------------------------
# The same checks, answers and log line as iPaaS.com hook requests (above): the subscription's webhook keys
# (current and previous, constant time: authenticate), 401 with one body whatever went wrong, 413, 400 naming the
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


def kind_of(event: str, settings: NinetyNineMindsWebhookSettings) -> str | None:
    """loyalty_transaction / customer for the subscription's event names (case-insensitive), else None."""
    name = event.strip().lower()
    if name in {e.strip().lower() for e in settings.loyalty_transaction_events}:
        return "loyalty_transaction"
    if name in {e.strip().lower() for e in settings.customer_events}:
        return "customer"
    return None


class NinetyNineMindsHookIngress:
    """A 99minds webhook in, one InboundMessage on the 99minds -> iPaaS.com queue."""

    def __init__(
        self,
        *,
        queue_url: str,
        send: Sender,
        keys: Callable[[], SubscriptionRegistry[WebhookKeySettings]] = load_webhook_keys,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ):
        self.queue_url = queue_url
        self.send = send
        self.keys = keys  # the webhook key secrets only (NinetyNineMindsWebhookSettings): never partner credentials
        self.max_body_bytes = min(max_body_bytes, SQS_MAX_MESSAGE_BYTES)  # one limit, as for /hooks

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> HookReply:
        from ..core.models.inbound import InboundMessage

        headers = {k.lower(): v for k, v in headers.items()}
        segments = (
            [s for s in path[len(NINETYNINE_HOOK_PREFIX) :].split("/")][: MAX_PATH_SEGMENTS + 1]
            if path.startswith(NINETYNINE_HOOK_PREFIX)
            else [""]
        )
        system_id, segments = segments[0].strip(), segments[1:]
        try:
            registry = self.keys()
        except ConfigurationError as exc:
            return _unavailable(f"webhook key settings cannot be read: {exc.message}")
        # Where the key is read is the subscription's own setting; an unknown, broken or non-99minds id reads it
        # where the default says and then fails authentication like a wrong key (the same 401: nothing is revealed)
        try:
            settings = registry.get(system_id) if system_id in registry.system_ids() else None
        except ConfigurationError:
            settings = None
        known = isinstance(settings, NinetyNineMindsWebhookSettings)
        routing = (
            settings
            if isinstance(settings, NinetyNineMindsWebhookSettings)
            else NinetyNineMindsWebhookSettings(Name="?", Platform="99minds", **{"iPaaS System Id": "?"})
        )

        # Before authentication every answer is 401, whether the destination exists or not: a body that carries the
        # key but is too large to read, or cannot be read as JSON, has no key (the size and parse limits answer the
        # same for every destination; 413 and 400 come only after authentication)
        document: Any = None
        if _location(routing.webhook_key_location)[0] == "body":  # the key cannot be read without parsing
            if len(body) > self.max_body_bytes:
                return unauthorized(f"99minds webhook: the body (which carries the key) is over {self.max_body_bytes} bytes")
            document = _parse_json(body)
            if document is None:
                return unauthorized("99minds webhook: the body (which carries the key) cannot be read as JSON")
        key = _read(routing.webhook_key_location, headers, document, segments)
        auth = authenticate(f"Bearer {key}" if key else None, destination=system_id, keys=lambda: registry)
        if not auth or not known:
            if key is None:
                why = f"no key at {routing.webhook_key_location}"
            else:
                why = auth.why_not() if not auth else "not a 99minds subscription"
            return unauthorized(f"99minds webhook for '{system_id[:40]}': {why}")

        if len(body) > self.max_body_bytes:
            return _too_large(len(body), self.max_body_bytes)
        if document is None and any(
            _location(loc)[0] == "body" for loc in (routing.webhook_event_location, routing.webhook_record_id_location)
        ):
            document = _parse_json(body)
            if document is None:
                message = "the body cannot be read as JSON (not JSON, not UTF-8, or nested too deep)"
                return HookReply(400, {"message": message}, reason=message)
        event = _read(routing.webhook_event_location, headers, document, segments)
        if event is None:
            message = f"no event name at {routing.webhook_event_location}"
            return HookReply(400, {"message": message, "field": routing.webhook_event_location}, reason=message)
        kind = kind_of(event, routing)
        if kind is None:
            reason = f"99minds event '{event[:80]}' is not transferred; skipped"
            return HookReply(202, {"accepted": 0, "skipped": 1}, reason=reason, skipped=1)  # never echoes the event
        record_id = _read(routing.webhook_record_id_location, headers, document, segments)
        if record_id is None:
            message = f"no record id at {routing.webhook_record_id_location}"
            return HookReply(400, {"message": message, "field": routing.webhook_record_id_location}, reason=message)
        guid = (headers.get("x-correlation-id") or "").strip()[:MAX_CORRELATION_ID_CHARS] or str(uuid.uuid4())
        try:
            message_body = InboundMessage(kind=kind, id=record_id, destination=system_id, event=event, tracking_guid=guid)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            field_name = ".".join(str(p) for p in first["loc"])
            message = f"99minds {kind} webhook: field '{field_name}': {first['msg']}"
            return HookReply(400, {"message": message, "field": field_name}, reason=message)
        if carries_key(message_body.model_dump(), registry_keys(lambda: registry)):
            return _carries_key_reply(f"99minds {kind} webhook", None)
        route = f"{kind}:99minds->ipaas"
        try:
            queued = self.send(self.queue_url, [message_body.model_dump_json(exclude_none=True)])
        except Exception as exc:  # noqa: BLE001 - any failure to queue is answered 5xx: the sender retries
            reason = exc.message if isinstance(exc, TransferError) else f"{type(exc).__name__}: {exc}"[:300]
            return _unavailable(f"the webhook could not be queued ({reason})", tracking_guids=(guid,))
        return HookReply(
            202,
            {"accepted": queued},
            reason=f"99minds {kind} {record_id[:80]} queued ({event[:80]})",
            notifications=1,
            queued={route: queued},
            tracking_guids=(guid,),
        )


def _too_large(size: int, limit: int) -> HookReply:
    return HookReply(413, {"message": f"the body is {size} bytes; at most {limit} are accepted"}, reason="body too large")


_default_99minds: tuple[tuple[str | None, ...], NinetyNineMindsHookIngress] | None = None


def default_99minds_ingress() -> NinetyNineMindsHookIngress:
    """From the function's environment: FROM_99MINDS_QUEUE_URL (the 99minds -> iPaaS.com queue) and the same
    body limit and SQS client settings as default_ingress()."""
    global _default_99minds
    key = tuple(os.environ.get(v) for v in ("FROM_99MINDS_QUEUE_URL", "HOOK_MAX_BODY_BYTES", "AWS_ENDPOINT_URL"))
    if _default_99minds is None or _default_99minds[0] != key:
        import boto3
        from botocore.config import Config

        from ..platform.queues import send_all

        queue_url = (os.environ.get("FROM_99MINDS_QUEUE_URL") or "").strip()
        if not queue_url:
            raise ConfigurationError("FROM_99MINDS_QUEUE_URL is not set (the 99minds -> iPaaS.com queue)")
        client = boto3.client(
            "sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
        )
        _default_99minds = (
            key,
            NinetyNineMindsHookIngress(
                queue_url=queue_url,
                send=lambda url, bodies: send_all(client, url, bodies),
                max_body_bytes=int(os.environ.get("HOOK_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES),
            ),
        )
    return _default_99minds[1]
