"""The Stamped.io and Makini adapters against their sandboxes, without AWS: auth, documented paths, Stamped's
email de-duplication, Makini paging (meta.last_page, continuation links, ignored filters), 429 + Retry-After
and the plain 401 message."""

from __future__ import annotations

import base64
import itertools

import pytest

from ipaas_sync.core.errors import ConfigurationError, PermanentError
from ipaas_sync.core.settings import parse_subscription
from ipaas_sync.destinations.makini.client import MakiniClient
from ipaas_sync.destinations.stamped.client import StampedClient
from sandbox.makini import MakiniSandbox
from sandbox.stamped import StampedSandbox


@pytest.fixture(autouse=True)
def no_shared_limiter(monkeypatch):
    monkeypatch.delenv("THROTTLE_TABLE", raising=False)  # the sandbox's own limit is what is tested here


@pytest.fixture
def stamped():
    with StampedSandbox() as server:
        yield server


@pytest.fixture
def makini_server():
    servers = []

    def make(**kw) -> MakiniSandbox:
        server = MakiniSandbox(**kw).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


def stamped_client(server: StampedSandbox, **over) -> StampedClient:
    return StampedClient(
        parse_subscription(
            {
                "Platform": "stamped",
                "Name": "s",
                "iPaaS System Id": "2001",
                "iPaaS API Token": "t-ipaas",
                "API Url": server.url,
                "API Public Key": server.public_key,
                "API Private Key": server.private_key,
                "API Store Hash": server.store_hash,
                **over,
            }
        )
    )


def makini_client(server: MakiniSandbox, **over) -> MakiniClient:
    return MakiniClient(
        parse_subscription(
            {
                "Platform": "makini",
                "Name": "m",
                "iPaaS System Id": "3001",
                "iPaaS API Token": "t-ipaas",
                "API Url": server.url,
                "API Token": server.token,
                **over,
            }
        )
    )


# -- Stamped.io -----------------------------------------------------------------------------------------------
def test_stamped_basic_auth_and_store_hash_in_the_path(stamped):
    client = stamped_client(stamped)
    reply = client.create_customer({"email": "ada@example.com", "firstName": "Ada"}, what="customer 1")
    [call] = stamped.calls("POST")
    assert call.path == "/api/v2/270392/dashboard/customers/add" and call.status == 200
    assert stamped.customers[str(reply["id"])]["firstName"] == "Ada"
    client.update_customer(str(reply["id"]), {"email": "ada@example.com", "lastName": "L"}, what="customer 1")
    assert stamped.calls("POST")[-1].path == f"/api/v2/270392/dashboard/customers/{reply['id']}"
    assert client.get_customer(str(reply["id"]), what="customer 1")["lastName"] == "L"
    assert client.get_customer("999", what="customer 1") is None
    assert "store" in client.check_credentials()


def test_stamped_sandbox_rejects_anything_but_the_right_basic_credentials(stamped):
    import requests

    url = f"{stamped.url}/api/v2/270392/dashboard/customers"
    for auth in (None, ("pubkey-sandbox0000000000000000", "wrong"), ("wrong", stamped.private_key)):
        assert requests.get(url, auth=auth, timeout=5).status_code == 401
    bearer = {"Authorization": "Bearer " + base64.b64encode(b"x:y").decode()}
    assert requests.get(url, headers=bearer, timeout=5).status_code == 401
    assert requests.get(url, auth=(stamped.public_key, stamped.private_key), timeout=5).status_code == 200


def test_stamped_wrong_key_is_a_configuration_error_without_the_secret(stamped):
    client = stamped_client(stamped, **{"API Private Key": "key-WRONG-secret"})
    with pytest.raises(ConfigurationError) as err:
        client.create_customer({"email": "a@b.co"}, what="customer 2")
    assert "Stamped.io rejected the credentials (HTTP 401)" in str(err.value)
    assert "key-WRONG-secret" not in str(err.value) and stamped.customers == {}


def test_stamped_wrong_store_hash_is_a_configuration_error(stamped):
    with pytest.raises(ConfigurationError, match="HTTP 403"):
        stamped_client(stamped, **{"API Store Hash": "999999"}).check_credentials()


def test_stamped_create_with_an_existing_email_updates_that_customer(stamped):
    existing = stamped.add_customer("grace@example.com", firstName="G.")
    reply = stamped_client(stamped).create_customer({"email": "Grace@Example.com", "firstName": "Grace"}, what="customer 3")
    assert reply["id"] == existing["id"] and len(stamped.customers) == 1
    assert stamped.customers[str(existing["id"])]["firstName"] == "Grace"


# -- Makini ---------------------------------------------------------------------------------------------------
def test_makini_pages_until_meta_last_page(makini_server):
    server = makini_server(honour_filters=False)
    for n in range(230):
        server.add_customer(f"C-{n}")
    client = makini_client(server)
    found = client.find_customer("C-229", what="customer 229")
    assert found["code"] == "C-229"
    assert client.get_customer(found["key"], what="customer 229")["data"] == found
    assert client.get_customer("00000000000000", what="customer x") is None
    pages = [int(c.query["page"][0]) for c in server.calls("GET", "/api/wms/customers") if "page" in c.query]
    assert pages == [1, 2, 3]
    assert all(
        c.query["per_page"] == ["100"] and c.query["filter[code]"] == ["C-229"] for c in server.calls("GET") if "page" in c.query
    )


def test_makini_follows_continuation_links(makini_server):
    server = makini_server(paging="cursor", honour_filters=False)
    for n in range(250):
        server.add_customer(f"C-{n}")
    client = makini_client(server)
    assert client.find_customer("C-249", what="customer 249")["code"] == "C-249"
    assert [c.query.get("cursor", ["-"])[0] for c in server.calls("GET")] == ["-", "100", "200"]
    assert client.find_customer("nobody", what="customer x") is None


def test_makini_filter_narrows_the_read_to_one_page(makini_server):
    server = makini_server()
    for n in range(150):
        server.add_customer(f"C-{n}")
    assert makini_client(server).find_customer("C-7", what="customer 7")["code"] == "C-7"
    assert len(server.calls("GET")) == 1


def test_makini_401_says_a_changed_credential_means_reconnecting(makini_server):
    server = makini_server()
    with pytest.raises(ConfigurationError) as err:
        makini_client(server, **{"API Token": "stale-token-SECRET"}).check_credentials()
    assert "Makini rejected the token (HTTP 401)" in str(err.value)
    assert "a changed credential means reconnecting for a new token" in str(err.value)
    assert "stale-token-SECRET" not in str(err.value)


def test_makini_429_with_retry_after_is_waited_and_retried(makini_server):
    server = makini_server(rate_limit=(2, 2))
    client = makini_client(server)
    for n in range(3):
        client.create_customer({"name": f"N{n}", "code": f"C-{n}"}, what=f"customer {n}")
    throttled = server.calls("POST", status=429)
    assert len(throttled) == 1 and len(server.customers) == 3
    ok = server.calls("POST", status=200)
    assert ok[-1].at - throttled[0].at >= 0.9  # waited for Retry-After before the retry


def test_makini_create_duplicate_code_is_a_permanent_error(makini_server):
    server = makini_server()
    server.add_customer("C-1")
    with pytest.raises(PermanentError, match="HTTP 422.*code has already been taken"):
        makini_client(server).create_customer({"name": "X", "code": "C-1"}, what="customer 1")


def test_makini_writes_are_paced_in_batches(makini_server):
    server = makini_server()
    client = makini_client(server, **{"Batch Size": 2, "Batch Delay Seconds": 0.6})
    for n in range(5):
        client.create_customer({"name": f"N{n}", "code": f"C-{n}"}, what=f"customer {n}")
    at = [c.at for c in server.calls("POST")]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(at)]
    assert gaps[1] >= 0.55 and gaps[3] >= 0.55 and gaps[0] < 0.4 and gaps[2] < 0.4, gaps
    assert client.pacer.batches_started == 3
