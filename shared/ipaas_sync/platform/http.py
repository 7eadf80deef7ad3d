"""HTTP for every partner adapter: requests + urllib3 Retry, timeouts, deadline and rate limit per attempt.

urllib3's Retry does the backoff-with-jitter and Retry-After handling. What it cannot do by itself, and
ThrottledRetry adds: take a slot from the shared per-destination rate limiter before every retry attempt
(the partner counts retries too), tell the limiter about a 429 so it slows down, retry a 429 even for a
non-idempotent POST (a 429 means the request was not processed), and never sleep past the invocation's
remaining time.
"""

from __future__ import annotations

import json
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

from ..core.errors import ConfigurationError, PermanentError, TransientError
from ..core.observability import MetricUnit, metrics, redact
from . import deadline
from .throttle import limiter_for, mark_written

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Limiter(Protocol):
    def acquire(self) -> float: ...
    def penalize(self, retry_after: float | None) -> None: ...


def throttled_metric() -> None:
    metrics.add_metric(name="PartnerThrottled", unit=MetricUnit.Count, value=1)


class ThrottledRetry(Retry):
    limiter: Limiter | None = None

    def new(self, **kw: Any) -> ThrottledRetry:
        retry = super().new(**kw)
        retry.limiter = self.limiter
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total:  # not processed by the partner: safe for any method
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None and response.status == 429 and self.limiter is not None:
            throttled_metric()
            self.limiter.penalize(
                self.parse_retry_after(response.headers["Retry-After"]) if response.headers.get("Retry-After") else None
            )
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = (self.get_retry_after(response) if response is not None else None) or self.get_backoff_time()
        if wait + 1.0 > deadline.remaining():
            raise TransientError(
                f"partner asked to wait {wait:.0f}s, more than this invocation has left; redelivered later",
                retry_after=wait,
            )
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.acquire()


def build_session(*, limiter: Limiter | None, idempotent: bool, retries: int = 3, pool_size: int = 10) -> requests.Session:
    """A session whose retries are safe for the calls it carries.

    idempotent=True: GET/PUT and POSTs that carry an idempotency key are retried on 408/429/5xx, read
    errors and connection errors. idempotent=False: only connection errors (request never sent) and 429.
    """
    retry = ThrottledRetry(
        total=retries,
        connect=retries,
        read=retries if idempotent else 0,
        status=retries,
        other=0,
        backoff_factor=0.5,
        backoff_max=8,
        backoff_jitter=0.5,
        status_forcelist=RETRY_STATUSES if idempotent else {429},
        allowed_methods=(frozenset({"GET", "PUT", "DELETE", "HEAD", "POST"}) if idempotent else frozenset({"GET", "HEAD"})),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.limiter = limiter
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _report(circuit: Any, *, ok: bool) -> None:
    if circuit is None:
        return
    try:
        circuit.succeeded() if ok else circuit.failed()
    except Exception as exc:  # noqa: BLE001 - the circuit is an optimisation: its DynamoDB trouble never fails a call
        log.warning("circuit bookkeeping failed: %s", type(exc).__name__)


class ApiClient:
    """Base of one adapter per external system: the only place that turns HTTP into our error classes."""

    system = "partner"
    # The shared rate limit is kept per "<limiter_key>:<host>": partners count calls per caller (IP), so every
    # subscription calling the same host shares one limit.
    limiter_key = "partner"
    circuit_breaker = True  # its calls' failures and successes move the destination's circuit (iPaaS.com's do not)
    # share of the limit left unused (platform/throttle.py); None: the destinations' default (throttle.default_headroom: 2% of
    # the window, at most 0.6 s of it: 99minds' 150 a minute are used to 99%)
    limiter_headroom: float | None = None

    def __init__(
        self,
        base_url: str,
        *,
        bearer: str | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        rate: tuple[int, int] | None = None,
        pool_size: int = 10,
    ):
        """`bearer`: the token sent as `Authorization: Bearer`; `rate`: (limit, seconds) of the shared limiter."""
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **(headers or {})}
        if bearer:
            self._headers["Authorization"] = f"Bearer {bearer}"
        self._auth = auth
        limiter = (
            limiter_for(f"{self.limiter_key}:{urlparse(base_url).netloc}", *rate, headroom=self.limiter_headroom)
            if rate
            else None
        )
        self._limiter = limiter
        self._safe = build_session(limiter=limiter, idempotent=True, pool_size=pool_size)
        self._unsafe = build_session(limiter=limiter, idempotent=False, pool_size=pool_size)

    @property
    def limiter(self) -> Any:
        """The shared rate limiter of this adapter's host (throttle.DynamoRateLimiter), or None."""
        return self._limiter

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
        allow_404: bool = False,
    ) -> Any:
        """One call. `what` names the record for error messages, e.g. "customer 42"."""
        if idempotent is None:
            idempotent = method.upper() != "POST"
        remaining = deadline.remaining()
        if remaining < 1.0:
            raise TransientError(f"no time left in this invocation to call {self.system} for {what}")
        if self._limiter is not None:
            self._limiter.acquire()  # the record's first call may be deferred here (errors.Deferred), before it leaves
        if method.upper() not in ("GET", "HEAD"):
            mark_written()
        session = self._safe if idempotent else self._unsafe
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            resp = self._call(
                method,
                url,
                json=json_body,
                params=params,
                headers=self._headers,
                auth=self._auth,
                timeout=(CONNECT_TIMEOUT, max(1.0, min(READ_TIMEOUT, remaining - CONNECT_TIMEOUT))),
                session=session,
            )
        except requests.Timeout:
            raise TransientError(f"{self.system} did not answer in time ({method} {path}) for {what}") from None
        except requests.exceptions.RetryError:
            raise TransientError(f"{self.system} still failing after retries ({method} {path}) for {what}") from None
        except requests.ConnectionError as exc:
            raise TransientError(f"{self.system} connection failed ({method} {path}) for {what}: {type(exc).__name__}") from None
        return self.check(resp, what=what, allow_404=allow_404)

    def _call(self, method: str, url: str, *, session: requests.Session, **kw: Any) -> requests.Response:
        """The request (with urllib3's retries), and what it says about the destination for its circuit
        (runtime/circuit.py): no answer or 408/5xx after the retries is a failure, any other answer but 429 (the rate
        limiter's business) a success. The circuit's bookkeeping never fails the call."""
        circuit = self._limiter.circuit if self.circuit_breaker and self._limiter is not None else None
        try:
            resp = session.request(method, url, **kw)
        except requests.RequestException:
            _report(circuit, ok=False)
            raise
        if resp.status_code != 429:
            _report(circuit, ok=not (resp.status_code == 408 or resp.status_code >= 500))
        return resp

    def check(self, resp: requests.Response, *, what: str, allow_404: bool = False) -> Any:
        status = resp.status_code
        call = f"{resp.request.method} {urlparse(resp.url).path}"
        if 200 <= status < 300:
            if not resp.content or not resp.content.strip():
                return None
            try:
                return resp.json()
            except ValueError:
                raise TransientError(f"{self.system} answered {call} for {what} with malformed JSON") from None
        if status == 404 and allow_404:
            return None
        detail = self._error_detail(resp)
        if status in (401, 403):
            raise ConfigurationError(f"{self.system} rejected the credentials (HTTP {status}) on {call} for {what}{detail}")
        if status in RETRY_STATUSES or status >= 500:
            retry_after = resp.headers.get("Retry-After")
            raise TransientError(
                f"{self.system} answered HTTP {status} on {call} for {what}{detail}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        raise PermanentError(f"{self.system} rejected {what}: HTTP {status} on {call}{detail}")

    @staticmethod
    def _error_detail(resp: requests.Response) -> str:
        try:
            body = resp.json()
        except ValueError:
            text = resp.text.strip()[:200]
            return f": {redact(text)}" if text else ""
        if isinstance(body, dict):
            for key in ("message", "error", "errors", "Message", "detail"):
                if body.get(key):
                    value = body[key]
                    text = value if isinstance(value, str) else json.dumps(value)[:300]
                    return f": {redact(text)[:300]}"
        return ""
