"""ApiClient turns every way a call can fail into our error classes (against a local sandbox server, no AWS)."""

from __future__ import annotations

import pytest

from ipaas_sync.core.errors import PermanentError, TransientError
from ipaas_sync.platform import http
from ipaas_sync.platform.http import ApiClient
from sandbox.server import SandboxServer


class Echo(SandboxServer):
    name = "echo"

    def register(self) -> None:
        self.route("GET", "/thing", lambda query, body: {"ok": True})
        self.route("POST", "/thing", lambda query, body: {"created": body})

    def authorized(self, headers) -> bool:
        return True


@pytest.fixture(scope="module")
def echo():
    with Echo() as s:
        yield s


@pytest.fixture
def server(echo, monkeypatch):
    monkeypatch.setattr(http.ThrottledRetry, "get_backoff_time", lambda self: 0)  # retries at once
    echo.faults.clear()
    echo.requests.clear()
    return echo


@pytest.fixture
def client(server):
    return ApiClient(server.url, headers={})


def test_a_connection_reset_on_a_create_is_transient_and_not_retried(server, client):
    server.faults.reset(1)
    with pytest.raises(TransientError, match=r"partner connection failed \(POST /thing\) for thing 1: ConnectionError"):
        client.request("POST", "/thing", json_body={"a": 1}, what="thing 1")
    assert len(server.calls("POST")) == 1  # a create whose request may have arrived is never sent twice


def test_a_connection_reset_on_an_idempotent_call_is_retried(server, client):
    server.faults.reset(2)
    assert client.request("GET", "/thing", what="thing 1") == {"ok": True}
    assert [c.status for c in server.calls("GET")] == [0, 0, 200]


def test_resets_past_the_retries_are_transient(server, client):
    server.faults.reset(10)
    with pytest.raises(TransientError, match=r"connection failed \(GET /thing\) for thing 1"):
        client.request("GET", "/thing", what="thing 1")
    assert len(server.calls("GET")) == 4  # the call and 3 retries


def test_a_slow_answer_is_a_timeout(server, client, monkeypatch):
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    server.faults.slow(1, seconds=2, path="/thing")
    with pytest.raises(TransientError, match=r"did not answer in time \(POST /thing\)"):
        client.request("POST", "/thing", json_body={}, what="thing 1")


def test_malformed_json_is_transient_and_a_4xx_permanent(server, client):
    server.faults.malformed(1)
    with pytest.raises(TransientError, match="with malformed JSON"):
        client.request("POST", "/thing", json_body={}, what="thing 1")
    server.faults.fail(1, status=422)
    with pytest.raises(PermanentError, match="rejected thing 1: HTTP 422 on POST /thing: sandbox fault"):
        client.request("POST", "/thing", json_body={}, what="thing 1")


def test_a_sandbox_asked_for_no_faults_injects_none(server, client):
    # the benchmark's --foreign-429s 0 asks the sandbox for zero 429s: it once answered one anyway
    server.faults.throttle(0, retry_after=2)
    assert client.request("GET", "/thing", what="thing 1") == {"ok": True}
    assert [c.status for c in server.calls("GET")] == [200]
