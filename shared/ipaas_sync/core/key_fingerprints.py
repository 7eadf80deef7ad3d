"""Webhook API keys masked by functions that may not read them: salted fingerprints, published by the hook ingress.

The hook ingress is the only function that reads the webhook key secrets (least privilege), and it refuses any
notification holding a key value. A message put on a transfer queue by hand bypasses the ingress, and a transfer
function cannot mask a value it was never given. So the ingress publishes, in one SSM parameter that only it
writes, an HMAC-SHA256 (truncated to 128 bits) of every current and previous key under a random salt, with the
keys' lengths; every other function reads that parameter (Powertools' parameters utility, cached like the
secrets) and masks, in each output line, any run of characters whose fingerprint is one of them.

A key travels as `Authorization: Bearer <key>`, so it is an RFC 6750 b64token (letters, digits and `-._~+/`,
then `=` padding) of at least WEBHOOK_KEY_MIN_LENGTH characters (core/settings.py refuses others): a line is
scanned for maximal runs of those characters, and only windows of a key's exact length inside such runs are
hashed (a few per line; none at all in a function that has no fingerprints). The parameter reveals the keys'
lengths and lets whoever can read it test a guess; a random key (the docs' `secrets.token_urlsafe(32)`) cannot
be guessed. No library masks values it may only know by fingerprint, hence this module.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PARAMETER_ENV = "WEBHOOK_KEY_FINGERPRINTS_PARAMETER"
MAX_AGE_SECONDS = int(os.environ.get("SETTINGS_MAX_AGE_SECONDS", "300"))
VERSION = 1
DIGEST_BYTES = 16
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MASK = "***"


def is_b64token(value: str) -> bool:
    """Whether `value` can be a Bearer credential as RFC 6750 writes it (what the masking scans for)."""
    return B64TOKEN.fullmatch(value) is not None


@dataclass(frozen=True)
class KeyFingerprints:
    salt: bytes
    lengths: frozenset[int]
    digests: frozenset[bytes]

    @classmethod
    def of(cls, keys: Iterable[str], salt: bytes) -> KeyFingerprints:
        keys = [k for k in keys if k]
        return cls(salt, frozenset(len(k) for k in keys), frozenset(_digest(salt, k) for k in keys))

    @classmethod
    def parse(cls, text: str) -> KeyFingerprints:
        """The published form; ValueError if it is not that form."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("v") != VERSION:
            raise ValueError("not a webhook key fingerprint document (version 1)")
        digests = frozenset(bytes.fromhex(d) for d in doc.get("fingerprints", []))
        if any(len(d) != DIGEST_BYTES for d in digests):
            raise ValueError("a fingerprint is not 128 bits")
        return cls(bytes.fromhex(doc.get("salt", "")), frozenset(int(n) for n in doc.get("lengths", [])), digests)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "salt": self.salt.hex(),
                "lengths": sorted(self.lengths),
                "fingerprints": sorted(d.hex() for d in self.digests),
            },
            separators=(",", ":"),
        )

    def mask(self, text: str) -> str:
        """`text` with every key value whose fingerprint is published replaced by MASK."""
        if not self.digests:
            return text
        shortest = min(self.lengths)
        spans: list[tuple[int, int]] = []
        for run in B64TOKEN.finditer(text):
            if run.end() - run.start() >= shortest:
                spans.extend((run.start() + i, run.start() + j) for i, j in _key_spans(self, run.group()))
        if not spans:
            return text
        out, at = [], 0
        for start, end in sorted(spans):
            if end <= at:
                continue
            out.append(text[at : max(start, at)])
            out.append(MASK)
            at = end
        out.append(text[at:])
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def _key_spans(fingerprints: KeyFingerprints, token: str) -> tuple[tuple[int, int], ...]:
    """Where in one run of token characters a fingerprinted key is. Cached: most runs of a function's lines recur
    (its name, ARN, log group, a destination's ids), and each costs a hash per window of each key length."""
    return tuple(
        (i, i + length)
        for length in fingerprints.lengths
        for i in range(len(token) - length + 1)
        if _digest(fingerprints.salt, token[i : i + length]) in fingerprints.digests
    )


def _digest(salt: bytes, key: str) -> bytes:
    return hmac.digest(salt, key.encode("utf-8"), hashlib.sha256)[:DIGEST_BYTES]


# -- the hook ingress: publish ------------------------------------------------------------------------------------
class Publisher:
    """What the ingress calls with the current key values on every request: reads the parameter at most once per
    MAX_AGE_SECONDS (or at once when the keys change) and writes it only when it no longer matches the keys (the salt
    kept). A failure is logged by the caller and tried again on the next request: the ingress goes on refusing key
    values itself either way."""

    def __init__(self, parameter: str | None = None, ssm: Callable[[], Any] | None = None):
        self._parameter = parameter
        self._ssm = ssm
        self._lock = threading.Lock()
        self._checked: tuple[bytes, float] | None = None  # (digest of the keys, when)

    def __call__(self, keys: frozenset[str]) -> bool:
        """Whether the parameter was written."""
        if not self.parameter:
            return False
        seen = hashlib.sha256("\0".join(sorted(keys)).encode("utf-8")).digest()
        with self._lock:
            if self._checked and self._checked[0] == seen and time.monotonic() - self._checked[1] < MAX_AGE_SECONDS:
                return False
            client = self._client()
            try:
                published = KeyFingerprints.parse(client.get_parameter(Name=self.parameter)["Parameter"]["Value"])
                salt = published.salt or secrets.token_bytes(16)
            except (ValueError, KeyError, TypeError):  # never written yet (the template's placeholder), or garbled
                published, salt = None, secrets.token_bytes(16)
            wanted = KeyFingerprints.of(keys, salt)
            written = wanted != published
            if written:
                client.put_parameter(Name=self.parameter, Value=wanted.to_json(), Type="String", Overwrite=True)
            self._checked = (seen, time.monotonic())
            return written

    def forget(self) -> None:
        """Check the parameter on the next call (a new local stack: its parameter is the template's placeholder)."""
        with self._lock:
            self._checked = None

    @property
    def parameter(self) -> str:
        return self._parameter if self._parameter is not None else os.environ.get(PARAMETER_ENV, "")

    def _client(self) -> Any:
        if self._ssm is not None:
            return self._ssm()
        import boto3

        return boto3.client("ssm")


# -- every other function: read --------------------------------------------------------------------------------
def published(parameter: str | None = None) -> KeyFingerprints | None:
    """The fingerprints the ingress published (cached for MAX_AGE_SECONDS), None where this function has no
    parameter configured. Raises what reading it raised (the caller decides: masking goes on with what it has)."""
    name = parameter if parameter is not None else os.environ.get(PARAMETER_ENV, "")
    if not name:
        return None
    from aws_lambda_powertools.utilities import parameters

    return _parsed(str(parameters.get_parameter(name, max_age=MAX_AGE_SECONDS)))


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> KeyFingerprints:
    """Parsed once per published value: every batch asks (Powertools caches the value, not what it means), and the
    same object keeps _key_spans' cache warm."""
    return KeyFingerprints.parse(text)


__all__ = ["KeyFingerprints", "Publisher", "PARAMETER_ENV", "is_b64token", "published"]
