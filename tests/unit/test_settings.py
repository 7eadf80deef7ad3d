import json

import pytest

from ipaas_sync.core.errors import ConfigurationError
from ipaas_sync.core.settings import (
    SubscriptionRegistry,
    load_registry,
    load_webhook_keys,
    parse_subscription,
    parse_webhook_keys,
)

VALID = {
    "Platform": "99minds",
    "Name": "99minds - Release",
    "iPaaS System Id": 1001,
    "iPaaS API Token": "tok-SECRET-1234",
    "API Url": "https://api.demo.giftcard.99minds.io",
    "API Secret Key": "sk-SECRET-5678",
    "Store Ref Id": "store_b81a893dc2bc6e1a5d",
}


def test_valid_99minds_subscription_with_seed_defaults():
    s = parse_subscription(VALID)
    assert s.system_id == "1001"
    assert (s.api_throttle_limit, s.api_throttle_seconds) == (150, 60)
    assert s.store.kind == "store_ref_id"
    assert s.ipaas_api_url == "https://api.ipaas.com"
    assert "sk-SECRET-5678" not in repr(s) and "tok-SECRET-1234" not in str(s)


@pytest.mark.parametrize("missing", ["API Secret Key", "iPaaS API Token", "iPaaS System Id"])
def test_missing_setting_is_named(missing):
    raw = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(ConfigurationError, match=f"setting '{missing}'"):
        parse_subscription(raw)


def test_both_store_ids_is_an_error():
    with pytest.raises(ConfigurationError, match="exactly one of 'Store Ref Id' or 'Client Store Id'"):
        parse_subscription({**VALID, "Client Store Id": "1"})


def test_neither_store_id_is_an_error():
    with pytest.raises(ConfigurationError, match="missing setting 'Store Ref Id' or 'Client Store Id'"):
        parse_subscription({**VALID, "Store Ref Id": ""})


def test_errors_never_echo_values():
    with pytest.raises(ConfigurationError) as err:
        parse_subscription({**VALID, "API Url": "sk-SECRET-5678", "API Throttle Limit": "lots"})
    assert "sk-SECRET-5678" not in str(err.value)
    assert "setting 'API Url'" in str(err.value) and "setting 'API Throttle Limit'" in str(err.value)


def test_unknown_platform():
    with pytest.raises(ConfigurationError, match="setting 'Platform'"):
        parse_subscription({**VALID, "Platform": "shopify"})


def test_registry_isolates_bad_subscriptions():
    reg = SubscriptionRegistry([VALID, {**VALID, "iPaaS System Id": "2", "API Secret Key": ""}])
    assert reg.get("1001").name == "99minds - Release"
    with pytest.raises(ConfigurationError, match="'API Secret Key'"):
        reg.get("2")
    with pytest.raises(ConfigurationError, match="no subscription is configured for destination '3'"):
        reg.get("3")


def test_registry_from_file(tmp_path, monkeypatch):
    path = tmp_path / "subs.json"
    path.write_text(json.dumps([VALID]))
    monkeypatch.delenv("SUBSCRIPTION_SECRET_ARNS", raising=False)
    monkeypatch.setenv("SUBSCRIPTIONS_FILE", str(path))
    assert load_registry().get("1001").platform == "99minds"


def test_no_source_configured(monkeypatch):
    for var in ("SUBSCRIPTION_SECRET_ARNS", "SUBSCRIPTIONS_FILE", "SUBSCRIPTIONS_JSON"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError, match="no subscriptions configured"):
        load_registry()


def test_webhook_keys_are_optional_secrets_current_then_previous():
    assert parse_webhook_keys(VALID).webhook_keys() == ()
    assert parse_webhook_keys({**VALID, "Webhook API Key": "", "Webhook API Key (Previous)": "  "}).webhook_keys() == ()
    s = parse_webhook_keys(
        {**VALID, "Webhook API Key": "whk-current-0123456789", "Webhook API Key (Previous)": "whk-previous-0123456789"}
    )
    assert s.webhook_keys() == ("whk-current-0123456789", "whk-previous-0123456789")
    assert "whk-current" not in repr(s) and "whk-previous" not in str(s)


def test_a_short_webhook_key_is_refused_without_echoing_it():
    with pytest.raises(ConfigurationError) as err:
        parse_webhook_keys({**VALID, "Webhook API Key (Previous)": "short-key"})
    assert "setting 'Webhook API Key (Previous)'" in str(err.value) and "at least 16 characters" in str(err.value)
    assert "short-key" not in str(err.value)


def test_webhook_keys_are_masked_in_logs_even_in_a_subscription_that_fails_validation():
    from ipaas_sync.core.observability import redact

    SubscriptionRegistry(
        [
            {
                **VALID,
                "API Secret Key": "",
                "Webhook API Key": "whk-masked-0123456789",
                "Webhook API Key (Previous)": "whk-masked-previous-0123",
            }
        ]
    )
    assert redact("a whk-masked-0123456789 b whk-masked-previous-0123") == "a *** b ***"


def test_webhook_keys_are_not_partner_settings_and_load_from_their_own_secrets(monkeypatch):
    assert not hasattr(parse_subscription({**VALID, "Webhook API Key": "whk-current-0123456789"}), "webhook_keys")
    for var in (
        "WEBHOOK_KEY_SECRET_ARNS",
        "WEBHOOK_KEYS_FILE",
        "SUBSCRIPTION_SECRET_ARNS",
        "SUBSCRIPTIONS_FILE",
        "SUBSCRIPTIONS_JSON",
    ):
        monkeypatch.delenv(var, raising=False)
    keys = {"Platform": "99minds", "Name": "A", "iPaaS System Id": "1001", "Webhook API Key": "whk-current-0123456789"}
    monkeypatch.setenv("WEBHOOK_KEYS_JSON", json.dumps([keys]))
    assert load_webhook_keys().get("1001").webhook_keys() == ("whk-current-0123456789",)
    monkeypatch.delenv("WEBHOOK_KEYS_JSON")
    with pytest.raises(ConfigurationError, match="no webhook keys configured"):
        load_webhook_keys()
    # locally, one subscriptions file may carry both (never the AWS subscription secrets)
    monkeypatch.setenv("SUBSCRIPTIONS_JSON", json.dumps([{**VALID, "iPaaS System Id": "1001", **keys}]))
    assert load_webhook_keys().get("1001").platform == "99minds"
