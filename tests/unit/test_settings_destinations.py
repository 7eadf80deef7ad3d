"""Stamped.io and Makini subscription settings: the seed's names and defaults, and clear errors."""

import pytest

from ipaas_sync.core.errors import ConfigurationError
from ipaas_sync.core.settings import SubscriptionRegistry, parse_subscription
from ipaas_sync.destinations.makini.settings import MakiniSettings
from ipaas_sync.destinations.stamped.settings import StampedSettings

STAMPED = {
    "Platform": "stamped",
    "Name": "Stamped.io",
    "iPaaS System Id": 2001,
    "iPaaS API Token": "tok-SECRET-1",
    "API Public Key": "pubkey-PUBLIC-1",
    "API Private Key": "key-SECRET-PRIVATE-2",
    "API Store Hash": "270392",
}
MAKINI = {
    "Platform": "makini",
    "Name": "Mintsoft",
    "iPaaS System Id": "3001",
    "iPaaS API Token": "tok-SECRET-1",
    "API Token": "makini-SECRET-TOKEN-3",
}


def test_stamped_defaults_follow_the_seed():
    s = parse_subscription(STAMPED)
    assert isinstance(s, StampedSettings)
    assert s.api_url == "https://stamped.io"
    assert (s.api_throttle_limit, s.api_throttle_seconds) == (500, 60)
    assert (s.ipaas_throttle_limit, s.ipaas_throttle_seconds) == (500, 60)
    assert (s.concurrent_connections, s.concurrent_batch_executions) == (2, 10)
    assert "key-SECRET-PRIVATE-2" not in repr(s)
    assert set(s.secret_values()) == {"tok-SECRET-1", "key-SECRET-PRIVATE-2"}


def test_stamped_duplicates_equal_to_the_keys_are_accepted():
    s = parse_subscription({**STAMPED, "API User": "pubkey-PUBLIC-1", "API Password": "key-SECRET-PRIVATE-2"})
    assert s.api_user == "pubkey-PUBLIC-1"
    assert parse_subscription({**STAMPED, "API User": "", "API Password": ""}).api_password.get_secret_value() == ""


@pytest.mark.parametrize("setting,key", [("API User", "API Public Key"), ("API Password", "API Private Key")])
def test_stamped_duplicate_that_differs_is_named_without_values(setting, key):
    with pytest.raises(ConfigurationError) as err:
        parse_subscription({**STAMPED, setting: "something-else-SECRET-9"})
    text = str(err.value)
    assert f"setting '{setting}' differs from '{key}'" in text
    assert "something-else-SECRET-9" not in text and "key-SECRET-PRIVATE-2" not in text


@pytest.mark.parametrize("missing", ["API Public Key", "API Private Key", "API Store Hash"])
def test_stamped_required_settings_are_named(missing):
    with pytest.raises(ConfigurationError, match=f"setting '{missing}'"):
        parse_subscription({k: v for k, v in STAMPED.items() if k != missing})


def test_stamped_store_hash_must_be_a_path_segment():
    with pytest.raises(ConfigurationError, match="setting 'API Store Hash'"):
        parse_subscription({**STAMPED, "API Store Hash": "27/../x"})


def test_makini_defaults():
    s = parse_subscription(MAKINI)
    assert isinstance(s, MakiniSettings)
    assert s.api_url == "https://api.makini.io"
    assert (s.batch_size, s.batch_delay_seconds) == (50, 1.0)
    assert (s.api_throttle_limit, s.api_throttle_seconds) == (100, 60)
    assert s.company is None and s.transaction_filter.types == ("Order",)
    assert s.secret_values() == ["tok-SECRET-1", "makini-SECRET-TOKEN-3"]


@pytest.mark.parametrize("value,ok", [(1, True), (100, True), (101, False), (0, False)])
def test_makini_batch_size_is_at_most_100(value, ok):
    raw = {**MAKINI, "Batch Size": value}
    if ok:
        assert parse_subscription(raw).batch_size == value
    else:
        with pytest.raises(ConfigurationError, match="setting 'Batch Size'"):
            parse_subscription(raw)


def test_makini_token_required_and_company_key_optional():
    with pytest.raises(ConfigurationError, match="setting 'API Token'"):
        parse_subscription({**MAKINI, "API Token": ""})
    assert parse_subscription({**MAKINI, "Company Key": " 0700 "}).company == "0700"


def test_registry_lists_unassigned_subscriptions():
    reg = SubscriptionRegistry([STAMPED, {**MAKINI, "iPaaS System Id": ""}])
    assert reg.system_ids() == ["2001"] and reg.unassigned() == ["Mintsoft"]
