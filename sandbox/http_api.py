"""API Gateway HTTP API, locally: serves the template's HttpApi routes on 127.0.0.1 by turning each HTTP
request into an HttpApi (payload format 2.0) event for the real handler, and the handler's reply back into
HTTP. The function is not rewritten or wrapped: this is what API Gateway does in front of it.

What it copies from API Gateway: routes (method + path) from the template's `HttpApi` events, 404
`{"message": "Not Found"}` for anything else, the 10 MB payload limit (413), header names lower-cased and
repeated headers joined with commas, a text body passed as is and anything else base64-encoded, and 500
`{"message": "Internal Server Error"}` when the handler raises. One invocation at a time per function, as a
single warm Lambda container would take them. It never logs a header or a body.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .local_aws import ACCOUNT, LambdaContext, LocalDeployment
from .server import LoopbackServer

PAYLOAD_LIMIT = 10 * 1024 * 1024
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript")
API_ID = "localapi01"


@dataclass(frozen=True)
class HttpRoute:
    function: str
    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def http_routes(deployment: LocalDeployment) -> list[HttpRoute]:
    """The `HttpApi` events of every function in the template."""
    out = []
    for name, res in deployment.functions().items():
        for event in res["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event.get("Properties", {})
                out.append(HttpRoute(function=name, method=props.get("Method", "ANY").upper(), path=props.get("Path", "/")))
    return out


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route_key: str,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload format 2.0) gives a Lambda integration."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[lname] = f"{merged[lname]},{value}" if lname in merged else value
    content_type = merged.get("content-type", "").lower()
    is_text = not body or (content_type.startswith(TEXT_TYPES) and "content-encoding" not in merged)
    if is_text:
        try:
            text, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(body).decode(), True
    else:
        text, b64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    query: dict[str, str] = {}
    for part in filter(None, raw_query.split("&")):
        k, _, v = part.partition("=")
        query[k] = f"{query[k]},{v}" if k in query else v
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": b64,
    }
    if text:
        event["body"] = text
    if query:
        event["queryStringParameters"] = query
    if cookies:
        event["cookies"] = cookies
    return event


def http_reply(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A handler's return value as API Gateway turns it into HTTP (payload format 2.0)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for cookie in result.get("cookies") or []:
        headers.setdefault("Set-Cookie", cookie)
    return int(result["statusCode"]), headers, data


class HttpApiServer(LoopbackServer):
    """The template's HttpApi routes on 127.0.0.1, each served by its real handler."""

    name = "http-api"

    def __init__(self, deployment: LocalDeployment, handlers: dict[str, Callable], port: int = 0):
        self.deployment = deployment
        self.routes = {r.key: r for r in http_routes(deployment) if r.function in handlers}
        self.handlers = handlers
        self._locks = {name: threading.Lock() for name in handlers}
        self._port = port
        self.invocations = 0
        self.errors: list[str] = []  # invocations that raised (API Gateway answered 500)

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        if length > PAYLOAD_LIMIT:
            h.close_connection = True  # the body is not read
            return self._send(h, 413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}')
        body = h.rfile.read(length) if length else b""
        route = (
            self.routes.get(f"{h.command} {split.path}")
            or self.routes.get(f"ANY {split.path}")
            or self._templated(h.command, split.path)
        )
        if route is None:
            return self._send(h, 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
        event = http_api_event(
            method=h.command,
            raw_path=split.path,
            raw_query=split.query,
            headers=list(h.headers.items()),
            body=body,
            route_key=route.key,
            source_ip=h.client_address[0],
        )
        context = LambdaContext(route.function, self.deployment.function_timeout(route.function))
        try:
            with self._locks[route.function]:
                self.invocations += 1
                result = self.handlers[route.function](event, context)
            status, headers, data = http_reply(result)
        except Exception as exc:  # noqa: BLE001 - as API Gateway: a failed invocation is a 500 without details
            self.errors.append(f"{route.function}: {type(exc).__name__}: {str(exc)[:300]}")
            status, headers, data = 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
        self._send(h, status, headers, data)

    def _templated(self, method: str, path: str) -> HttpRoute | None:
        """A route with path variables ({name} one segment, a last {name+} the rest), as API Gateway matches."""
        for route in self.routes.values():
            if "{" not in route.path or route.method not in (method, "ANY"):
                continue
            pattern = re.sub(r"\\\{\w+\\\+\\\}$", "(.+)", re.escape(route.path))
            pattern = re.sub(r"\\\{\w+\\\}", "([^/]+)", pattern)
            if re.fullmatch(pattern, path):
                return route
        return None

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes) -> None:
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("apigw-requestid", uuid.uuid4().hex[:16])
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
