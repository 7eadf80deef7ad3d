"""The base of every partner sandbox: an HTTP server on 127.0.0.1 with routes, auth, the partner's rate
limit, a request log, and faults that a test can switch on.

Faults (each bounded by a count, so every load loop ends; each may be limited to a path prefix and a method):
    fail(n, status)            answer the next n matching requests with `status` (5xx by default)
    error_rate(ratio, seed)    answer ~ratio of requests with 503, reproducibly
    throttle(n, retry_after)   answer the next n with 429 and Retry-After
    slow(n, seconds)           sleep before answering (past a client's read timeout)
    reset(n)                   close the connection without an answer
    malformed(n)               apply the request, then answer 200 with broken JSON
    apply_then_hang(n, sec)    apply the request (the side effect happens), then stall past the timeout
Each recorded request names the fault it got (Recorded.fault), so a test can count the answers that were lost
after the side effect (LOST_ANSWER) and tell them from clean ones.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    at: float = field(default_factory=time.time)  # when the request arrived
    # the fault injected into this request, if any ("fail" for error_rate too): lets a test tell a request whose
    # answer was lost (slow, apply_then_hang, malformed: applied, the client saw no usable answer) from a clean one
    fault: str | None = None
    raw: bytes = b""  # the body exactly as it came on the wire (the equivalence tests compare these bytes)


# faults after which the request was applied but the client got no usable answer (a retry may repeat it)
LOST_ANSWER = frozenset({"slow", "apply_then_hang", "malformed"})


class Reply(Exception):
    """Raise from a route to answer with a status and body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class _Fault:
    kind: str
    remaining: int
    status: int = 503
    seconds: float = 0.0
    path: str | None = None
    method: str | None = None


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._queue: list[_Fault] = []
        self._ratio = 0.0
        self._rng = random.Random(0)
        self.injected: dict[str, int] = {}

    def fail(self, n: int = 1, status: int = 503, path: str | None = None, method: str | None = None):
        self._add(_Fault("fail", n, status=status, path=path, method=method))

    def throttle(self, n: int = 1, retry_after: float = 1, path: str | None = None, method: str | None = None):
        self._add(_Fault("throttle", n, status=429, seconds=retry_after, path=path, method=method))

    def slow(self, n: int = 1, seconds: float = 15, path: str | None = None, method: str | None = None):
        self._add(_Fault("slow", n, seconds=seconds, path=path, method=method))

    def reset(self, n: int = 1, path: str | None = None, method: str | None = None):
        self._add(_Fault("reset", n, path=path, method=method))

    def malformed(self, n: int = 1, path: str | None = None, method: str | None = None):
        self._add(_Fault("malformed", n, path=path, method=method))

    def apply_then_hang(self, n: int = 1, seconds: float = 15, path: str | None = None, method: str | None = None):
        self._add(_Fault("apply_then_hang", n, seconds=seconds, path=path, method=method))

    def error_rate(self, ratio: float, seed: int = 0):
        with self._lock:
            self._ratio, self._rng = ratio, random.Random(seed)

    def clear(self):
        with self._lock:
            self._queue.clear()
            self._ratio = 0.0

    def _add(self, fault: _Fault):
        if fault.remaining <= 0:  # none asked for (e.g. the benchmark's --foreign-429s 0): nothing to inject
            return
        with self._lock:
            self._queue.append(fault)

    def take(self, path: str, method: str | None = None) -> _Fault | None:
        with self._lock:
            for fault in self._queue:
                if (fault.path is None or path.startswith(fault.path)) and (
                    fault.method is None or method is None or fault.method == method
                ):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._queue.remove(fault)
                    self.injected[fault.kind] = self.injected.get(fault.kind, 0) + 1
                    return fault
            if self._ratio and self._rng.random() < self._ratio:
                self.injected["error_rate"] = self.injected.get("error_rate", 0) + 1
                return _Fault("fail", 1, status=503)
        return None


class RateLimit:
    """Sliding log over `seconds`: the partner's documented limit for all calls from this machine."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self.rejected = 0

    def check(self) -> float | None:
        """None if allowed, else seconds until a slot frees."""
        now = time.monotonic()
        with self._lock:
            while self._calls and self._calls[0] <= now - self.seconds:
                self._calls.popleft()
            if len(self._calls) >= self.limit:
                self.rejected += 1
                return self._calls[0] + self.seconds - now
            self._calls.append(now)
            return None


class RateLimits:
    """(calls, seconds) per sandbox of the local stack (sandbox/stack.py LocalStack), by the stack's name for it:
    `ipaas`, and each destination's sandbox (its kit's attribute: `ninetynine`, `stamped`, `makini`;
    sandbox/destinations.py): what its sandbox answers 429 + Retry-After beyond, and what the subscriptions the stack
    writes say (API Throttle Limit / Seconds; iPaaS.com's as "... (To iPaaS)"), so that our own traffic never draws a
    429 while every sandbox still enforces a limit. A subscription takes whole seconds: a sandbox counting over a
    fractional window (a margin over the subscription's limit, as in tests/integration/test_deferral.py) goes with
    subscription_overrides that give the whole window. The partners' own limits and the tests' are
    sandbox/destinations.py PARTNER_LIMITS and TEST_LIMITS."""

    def __init__(self, **limits: tuple[int, float]):
        self._limits = dict(limits)

    def __getattr__(self, name: str) -> tuple[int, float]:
        try:
            return self.__dict__["_limits"][name]
        except KeyError:
            raise AttributeError(name) from None

    def items(self):
        return self._limits.items()

    def replace(self, **limits: tuple[int, float]) -> RateLimits:
        """The same limits, those named here changed."""
        unknown = set(limits) - set(self._limits)
        if unknown:
            raise KeyError(f"no sandbox named {sorted(unknown)} (known: {sorted(self._limits)})")
        return RateLimits(**{**self._limits, **limits})

    def faster(self, factor: int) -> RateLimits:
        """The same windows, `factor` times the calls in each."""
        return RateLimits(**{name: (calls * factor, seconds) for name, (calls, seconds) in self._limits.items()})

    def __repr__(self) -> str:
        return f"RateLimits({self._limits})"


IPAAS_LIMIT = (500, 60)  # iPaaS.com publishes none: the subscription settings' default


Route = tuple[str, re.Pattern, Callable[..., Any]]
SHUTDOWN_POLL_SECONDS = 0.05


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port unless one is given) that hands every request to
    `_dispatch`. The base of the partner sandboxes and of the local HTTP API adapter."""

    name = "loopback"
    _port = 0
    _httpd: ThreadingHTTPServer | None = None

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # never log a request line or header
                pass

            def setup(self):
                super().setup()
                # the headers and the body leave in two writes: with Nagle on, the body waits for the client's
                # delayed ACK of the headers (about 40 ms per reply on loopback)
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self):
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        # stop() waits for serve_forever to see the shutdown flag, checked every poll_interval (0.5 s by default):
        # every test stops five of these servers, so the default cost about 1.3 s per test
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, name=self.name, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SandboxServer(LoopbackServer):
    name = "sandbox"

    def __init__(self, *, rate_limit: tuple[int, float] | None = None, port: int = 0):
        self.routes: list[Route] = []
        self.requests: list[Recorded] = []
        self.faults = Faults()
        self.rate_limit = RateLimit(*rate_limit) if rate_limit else None
        self.lock = threading.RLock()
        self._port = port
        self.register()

    # -- to be provided by each partner ---------------------------------------------------------------
    def register(self) -> None:
        raise NotImplementedError

    def authorized(self, headers) -> bool:
        raise NotImplementedError

    def unauthorized_body(self) -> Any:
        return {"message": "Unauthorized"}

    # -- routing --------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, fn: Callable[..., Any]) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, regex, fn))

    def calls(self, method: str | None = None, path_prefix: str = "", status: int | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and r.path.startswith(path_prefix)
                and (status is None or r.status == status)
            ]

    # -- request handling ---------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.time()
        parsed = urlparse(h.path)
        path, query = unquote(parsed.path), parse_qs(parsed.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        status, reply, headers = 500, {"message": "internal"}, {}
        fault = self.faults.take(path, h.command)
        try:
            if fault and fault.kind == "reset":
                self._record(h.command, path, query, raw, 0, fault.kind, arrived)
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault and fault.kind == "slow":
                time.sleep(fault.seconds)
            if fault and fault.kind in ("fail", "throttle"):
                headers = {"Retry-After": str(int(fault.seconds))} if fault.kind == "throttle" else {}
                raise Reply(fault.status, {"message": "sandbox fault"}, headers)
            if not self.authorized(h.headers):
                raise Reply(401, self.unauthorized_body())
            if self.rate_limit is not None:
                wait = self.rate_limit.check()
                if wait is not None:
                    raise Reply(429, {"message": "Too Many Requests"}, {"Retry-After": str(max(1, int(wait + 0.999)))})
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise Reply(400, {"message": "body is not valid JSON"}) from None
            status, reply = self._route(h.command, path, query, body)
        except Reply as r:
            status, reply, headers = r.status, r.body, r.headers
        self._record(
            h.command,
            path,
            query,
            body if body is not None else raw.decode(errors="replace"),
            status,
            fault.kind if fault else None,
            arrived,
            raw,
        )
        if fault and fault.kind == "apply_then_hang":
            time.sleep(fault.seconds)
        payload = (
            b'{"code": 200, "data": {'
            if fault and fault.kind == "malformed"
            else (json.dumps(reply).encode() if not isinstance(reply, bytes) else reply)
        )
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        for m, regex, fn in self.routes:
            match = regex.match(path)
            if match and m == method:
                with self.lock:
                    result = fn(query=query, body=body, **match.groupdict())
                return (200, result) if not (isinstance(result, tuple) and len(result) == 2) else result
        raise Reply(404, {"message": f"no route {method} {path}"})

    def _record(self, method, path, query, body, status, fault=None, arrived=None, raw=b""):
        with self.lock:
            self.requests.append(Recorded(method, path, query, body, status, at=arrived or time.time(), fault=fault, raw=raw))


def bearer(headers, token: str) -> bool:
    import hmac

    got = headers.get("Authorization") or ""
    return got.startswith("Bearer ") and hmac.compare_digest(got[7:].encode(), token.encode())
