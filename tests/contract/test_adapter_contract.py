"""The contract every destination's adapter meets against its sandbox, run for every destination of the registry
(shared/ipaas_sync/destinations) through its sandbox kit (sandbox/<package>.py KIT): a new destination inherits the
whole suite by its registry entry and its kit, with no test written for it here.

    401                 -> ConfigurationError naming the partner, with no secret value in it, nothing written
    429 + Retry-After   -> waited out and retried; the call succeeds
    5xx                 -> TransientError after the retries (the record goes back to its queue)
    malformed reply     -> TransientError naming the malformed JSON (the write may have happened: the caller's
                           existence check or link decides on the redelivery, never a blind second write)
    existence           -> a missing customer is None, a created one is read back by its key
    create / update     -> by the key the create answered (or the partner's own existence check where it has no
                           update: a second create is recognised, not duplicated)
"""

from __future__ import annotations

import time

import pytest

from ipaas_sync.core.errors import ConfigurationError, TransientError
from ipaas_sync.core.settings import parse_subscription
from ipaas_sync.destinations import REGISTRY, load
from ipaas_sync.platform.http import ThrottledRetry
from sandbox.destinations import kit

DESTINATIONS = [pytest.param(d, id=d.platform) for d in REGISTRY]


@pytest.fixture(autouse=True)
def no_shared_limiter(monkeypatch):
    monkeypatch.delenv("THROTTLE_TABLE", raising=False)  # the sandbox's own limit is what is tested here


@pytest.fixture(params=DESTINATIONS)
def destination(request):
    return request.param


@pytest.fixture
def server(destination):
    with kit(destination).server() as running:
        yield running


def client(destination, server, **over):
    k = kit(destination)
    settings = {
        "Platform": destination.platform,
        "Name": f"{destination.name} contract",
        "iPaaS System Id": k.system_id,
        "iPaaS API Token": "t-ipaas",
        **k.settings(server),
        **over,
    }
    return load(destination.client)(parse_subscription(settings))


def test_every_destination_has_a_sandbox_kit_and_an_adapter():
    for destination in REGISTRY:
        k = kit(destination)
        assert k.server().name, destination.platform
        assert callable(load(destination.client)) and load(destination.settings).model_fields, destination.platform


def test_a_rejected_credential_is_a_configuration_error_without_the_secret(destination, server):
    k = kit(destination)
    wrong = "wrong-SECRET-value-0123456789"
    right = k.settings(server)[k.credential]
    # the credential and any setting that duplicates it (Stamped.io's API Password) take the wrong value together
    over = {name: wrong for name, value in k.settings(server).items() if value == right}
    with pytest.raises(ConfigurationError) as err:
        k.create_customer(client(destination, server, **over), k.customer(1))
    text = str(err.value)
    assert "HTTP 401" in text
    assert load(destination.client).system in text
    assert wrong not in text and k.stored_customers(server) == 0


def test_a_429_with_retry_after_is_waited_out_and_retried(destination, server):
    k = kit(destination)
    c = client(destination, server)
    key = k.create_customer(c, k.customer(2))
    server.faults.throttle(1, retry_after=1, path=k.read_path, method="GET")
    started = time.monotonic()
    assert k.get_customer(c, key) is not None
    throttled, answered = server.calls("GET", status=429), server.calls("GET", status=200)
    assert len(throttled) == 1 and answered, "the 429 was retried"
    assert answered[-1].at - throttled[0].at >= 0.9 and time.monotonic() - started >= 0.9  # after its Retry-After


def test_a_5xx_that_persists_is_transient(destination, server, monkeypatch):
    monkeypatch.setattr(ThrottledRetry, "get_backoff_time", lambda self: 0.0)  # the retries, without their waits
    k = kit(destination)
    c = client(destination, server)
    server.faults.fail(20, status=503, path=k.read_path, method="GET")
    with pytest.raises(TransientError) as err:
        k.get_customer(c, "anything")
    assert load(destination.client).system in str(err.value)
    assert len(server.calls("GET", status=503)) == 4  # the call and its three retries, then the record's own retry


def test_a_malformed_reply_to_a_write_is_transient_and_the_write_is_recognised_after(destination, server):
    k = kit(destination)
    c = client(destination, server)
    payload = k.customer(3)
    server.faults.malformed(1, path=k.write_path, method="POST")
    with pytest.raises(TransientError, match="malformed JSON"):
        k.create_customer(c, payload)
    assert k.stored_customers(server) == 1  # the write happened; its answer was lost
    if k.find_customer is not None:  # the partner's existence check finds it: the redelivery links, never re-creates
        assert k.find_customer(c, payload) is not None
    else:  # the partner de-duplicates the create itself (by email): the redelivery lands on the same customer
        k.create_customer(c, payload)
    assert k.stored_customers(server) == 1


def test_existence_check_and_create_then_update_by_key(destination, server):
    k = kit(destination)
    c = client(destination, server)
    assert k.get_customer(c, "00000000000000") is None  # a missing customer is None, not an error
    payload = k.customer(4)
    key = k.create_customer(c, payload)
    assert k.get_customer(c, key) is not None
    if k.update_customer is not None:
        k.update_customer(c, key, k.customer(4, "Changed"))
        assert k.get_customer(c, key) is not None
        held = [name for held_key, _, name in k.held_customers(server) if held_key == key]
        assert held == ["Ada Changed"], k.held_customers(server)
    if k.find_customer is not None:
        assert k.find_customer(c, payload) == key
    assert k.stored_customers(server) == 1
