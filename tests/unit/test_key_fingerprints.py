"""Webhook keys masked by functions that may not read them: the fingerprints the hook ingress publishes
(core/key_fingerprints.py), how a line is scanned, and how the ingress keeps the parameter current."""

from __future__ import annotations

import json

import pytest

from ipaas_sync.core import observability
from ipaas_sync.core.key_fingerprints import KeyFingerprints, Publisher, is_b64token
from ipaas_sync.core.settings import WebhookKeySettings

KEY = "whk-9f3Kq_T~x+y/Zr0aB1cD2eF3gH4iJ5=="
OTHER = "another-key-of-24-chars!"[:-1] + "x"
SALT = b"0123456789abcdef"


def test_a_key_anywhere_in_a_line_is_masked_and_nothing_else_is():
    fp = KeyFingerprints.of([KEY, OTHER], SALT)
    line = json.dumps({"message": f"record 7 failed: destination '{KEY}' unknown", "guid": f"g-{OTHER}-x", "id": "7"})
    masked = fp.mask(line)
    assert KEY not in masked and OTHER not in masked
    assert masked == line.replace(KEY, "***").replace(OTHER, "***")


def test_a_key_inside_a_longer_run_and_twice_in_a_line_is_masked():
    fp = KeyFingerprints.of([KEY], SALT)
    assert fp.mask(f"x{KEY}{KEY}y {KEY}") == "x******y ***"


def test_a_line_without_a_key_is_left_as_it_is_and_nothing_registered_costs_nothing():
    line = "a 99minds id 65f1c0d2e4b0a1b2c3d4e5f6 and a guid 3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert KeyFingerprints.of([KEY], SALT).mask(line) == line
    assert KeyFingerprints.of([], SALT).mask(line) == line


def test_the_published_form_holds_no_key_and_round_trips():
    fp = KeyFingerprints.of([KEY, OTHER], SALT)
    text = fp.to_json()
    assert KEY not in text and OTHER not in text
    assert KeyFingerprints.parse(text) == fp
    with pytest.raises(ValueError):
        KeyFingerprints.parse('{"v": 2}')


def test_redact_masks_a_fingerprinted_key_no_secret_was_registered_for(monkeypatch):
    monkeypatch.setattr(observability, "_secrets", set())
    monkeypatch.setattr(observability, "_fingerprints", None)
    assert observability.redact(f"bad destination {KEY}") == f"bad destination {KEY}"  # what a transfer did before
    observability.register_fingerprints(KeyFingerprints.of([KEY], SALT))
    assert observability.redact(f"bad destination {KEY}") == "bad destination ***"


def test_a_webhook_key_must_be_a_bearer_token():
    assert is_b64token(KEY) and not is_b64token("has a space in it 1234")
    common = {"Name": "n", "Platform": "99minds", "iPaaS System Id": "1"}
    with pytest.raises(ValueError, match="Bearer"):
        WebhookKeySettings.model_validate({**common, "Webhook API Key": "sixteen chars, with spaces"})
    assert WebhookKeySettings.model_validate({**common, "Webhook API Key": KEY}).webhook_keys() == (KEY,)


class FakeSsm:
    def __init__(self, value: str = '{"v":1,"salt":"","lengths":[],"fingerprints":[]}'):
        self.value, self.gets, self.puts = value, 0, 0

    def get_parameter(self, Name: str) -> dict:  # noqa: N803 - boto3's names
        self.gets += 1
        return {"Parameter": {"Value": self.value}}

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool) -> None:  # noqa: N803
        assert Overwrite and Type == "String"
        self.puts += 1
        self.value = Value


def test_the_ingress_writes_only_when_the_keys_change_and_keeps_its_salt():
    ssm = FakeSsm()
    publish = Publisher("/stack/webhook-key-fingerprints", ssm=lambda: ssm)
    assert publish(frozenset({KEY})) is True
    first = KeyFingerprints.parse(ssm.value)
    assert first == KeyFingerprints.of([KEY], first.salt) and len(first.salt) == 16
    assert publish(frozenset({KEY})) is False and (ssm.gets, ssm.puts) == (1, 1)  # cached: no SSM call at all
    assert publish(frozenset({KEY, OTHER})) is True  # a rotation: previous and current
    assert KeyFingerprints.parse(ssm.value) == KeyFingerprints.of([KEY, OTHER], first.salt)
    # another container, same keys: reads, finds them current, writes nothing
    assert Publisher("/stack/webhook-key-fingerprints", ssm=lambda: ssm)(frozenset({KEY, OTHER})) is False
    assert ssm.puts == 2


def test_without_a_parameter_configured_nothing_is_published():
    assert Publisher("", ssm=lambda: pytest.fail("no SSM call"))(frozenset({KEY})) is False
