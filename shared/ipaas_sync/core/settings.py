"""Subscription settings: one per destination subscription, with the names iPaaS.com users know.

Where they come from (first that is set):
    SUBSCRIPTION_SECRET_ARNS  comma-separated Secrets Manager ARNs (AWS); each secret is one subscription
                              object or a list of them
    SUBSCRIPTIONS_FILE        path to a JSON file with the same shape (local)
    SUBSCRIPTIONS_JSON        the same JSON inline (local, tests)

A notification's `destination` (the iPaaS.com subscription / external system id) selects the
subscription by its "iPaaS System Id". Each subscription is validated on its own: one bad subscription
never stops the others. Errors name the setting and never echo a value.

The webhook API keys live apart from the partner credentials (docs/hook-ingress.md), so that the internet-facing
hook ingress reads nothing else (WebhookKeySettings, load_webhook_keys):
    WEBHOOK_KEY_SECRET_ARNS   comma-separated Secrets Manager ARNs (AWS), one subscription's keys each
    WEBHOOK_KEYS_FILE / WEBHOOK_KEYS_JSON   the same locally; else (local only) the SUBSCRIPTIONS_FILE /
                              SUBSCRIPTIONS_JSON objects, which may carry the webhook key settings too

These models are the one definition of each secret's JSON shape: `secret_shape()` builds the template's secrets
from them (tests/template checks that they are equal).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from aws_lambda_powertools.utilities import parameters
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from ..destinations import PLATFORMS, by_platform, load
from .errors import ConfigurationError
from .observability import register_secret

SECRET_MAX_AGE_SECONDS = int(os.environ.get("SETTINGS_MAX_AGE_SECONDS", "300"))
WEBHOOK_KEY_MIN_LENGTH = 16
# setting names whose values are secrets: registered for log redaction before any validation
SECRET_SETTINGS = (
    "iPaaS API Token",
    "API Secret Key",
    "API Private Key",
    "API Password",
    "API Token",
    "Webhook API Key",
    "Webhook API Key (Previous)",
)


class TransactionFilter(BaseModel):
    """The transaction mapping filter's settings (applied by mapping/transaction_filter.py): the accepted types,
    the required status and the excluded number suffixes, defaulting to iPaaS.com's published 99minds filter."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    types: tuple[str, ...] = Field(default=("Order", "Validated Return"), alias="Transaction Types")
    status: str = Field(default="Complete", alias="Transaction Status")
    excluded_suffixes: tuple[str, ...] = Field(default=("-D", "-GC"), alias="Excluded Transaction Suffixes")


class SecretSettings(BaseModel):
    """A secret's settings model: its secret values are registered for log redaction once it is parsed (_parse)."""

    def secret_values(self) -> list[str]:
        raise NotImplementedError


class SubscriptionSettings(SecretSettings):
    """Settings every subscription has: the iPaaS.com side and the throttle/concurrency settings."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, coerce_numbers_to_str=True)

    name: str = Field(alias="Name", min_length=1)
    platform: str = Field(alias="Platform")
    system_id: str = Field(alias="iPaaS System Id", min_length=1)
    ipaas_api_url: str = Field(alias="iPaaS API Url", default="https://api.ipaas.com", pattern=r"^https?://")
    ipaas_api_token: SecretStr = Field(alias="iPaaS API Token", min_length=1)
    api_url: str = Field(alias="API Url", pattern=r"^https?://")
    api_throttle_limit: int = Field(alias="API Throttle Limit", gt=0)
    api_throttle_seconds: int = Field(alias="API Throttle Seconds", gt=0)
    ipaas_throttle_limit: int = Field(alias="API Throttle Limit (To iPaaS)", default=500, gt=0)
    ipaas_throttle_seconds: int = Field(alias="API Throttle Seconds (To iPaaS)", default=60, gt=0)
    concurrent_connections: int = Field(alias="Concurrent Connections", default=2, ge=2, le=1000)
    concurrent_batch_executions: int = Field(alias="Concurrent Batch Executions", default=10, ge=1)
    # the transaction mapping filter (seed: "adjust filter as needed"); see mapping/transaction_filter.py
    transaction_types: tuple[str, ...] = Field(alias="Transaction Types", default=("Order", "Validated Return"))
    transaction_status: str = Field(alias="Transaction Status", default="Complete")
    excluded_transaction_suffixes: tuple[str, ...] = Field(alias="Excluded Transaction Suffixes", default=("-D", "-GC"))

    @property
    def transaction_filter(self) -> TransactionFilter:
        return TransactionFilter(
            types=self.transaction_types, status=self.transaction_status, excluded_suffixes=self.excluded_transaction_suffixes
        )

    def secret_values(self) -> list[str]:
        return [v.get_secret_value() for v in self.__dict__.values() if isinstance(v, SecretStr)]


def _webhook_key(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and len(value.strip()) < WEBHOOK_KEY_MIN_LENGTH:
        raise ValueError(f"a webhook API key has at least {WEBHOOK_KEY_MIN_LENGTH} characters")
    return value.strip() if isinstance(value, str) else value


class WebhookKeySettings(SecretSettings):
    """One subscription's webhook API keys: what iPaaS.com sends as `Authorization: Bearer` on its hook requests,
    the previous key staying accepted while a rotation is under way. Its own secret, the only one the hook ingress
    reads; `iPaaS System Id` and `Platform` say which subscription (and so which queues) the keys open."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, coerce_numbers_to_str=True)

    name: str = Field(alias="Name", min_length=1)
    platform: str = Field(alias="Platform")
    system_id: str = Field(alias="iPaaS System Id", min_length=1)
    webhook_api_key: SecretStr | None = Field(alias="Webhook API Key", default=None)
    webhook_api_key_previous: SecretStr | None = Field(alias="Webhook API Key (Previous)", default=None)

    @field_validator("webhook_api_key", "webhook_api_key_previous", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: Any) -> Any:
        return _webhook_key(value)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"must be one of {', '.join(PLATFORMS)}")
        return value

    def webhook_keys(self) -> tuple[str, ...]:
        """The webhook API keys hook requests to this subscription may carry: current, then previous."""
        return tuple(k.get_secret_value() for k in (self.webhook_api_key, self.webhook_api_key_previous) if k)

    def secret_values(self) -> list[str]:
        return list(self.webhook_keys())


def settings_model(platform: str) -> type[SubscriptionSettings]:
    """The settings model of a platform's subscription secret: its destination's (the registry names it)."""
    model: type[SubscriptionSettings] = load(by_platform(platform).settings)
    return model


def webhook_settings_model(platform: str) -> type[WebhookKeySettings]:
    """The model of a platform's webhook key secret: its destination's own where it has more than the keys."""
    name = by_platform(platform).webhook_settings if platform in PLATFORMS else ""
    model: type[WebhookKeySettings] = load(name) if name else WebhookKeySettings
    return model


def secret_shape(model: type[BaseModel], **given: Any) -> dict[str, Any]:
    """The JSON a secret for `model` starts as: every setting by its iPaaS.com name, in the model's order, with its
    default (lists as lists), "" where there is none; `given` fills in names (e.g. Platform, Name)."""
    shape: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        default = info.get_default(call_default_factory=True) if not info.is_required() else None
        shape[alias] = list(default) if isinstance(default, tuple) else ("" if default is None else default)
    return shape | given


# What a registry holds: a subscription's settings (load_registry) or its webhook key settings (load_webhook_keys)
Settings = TypeVar("Settings", bound=SecretSettings)


def _setting_problem(error: ErrorDetails) -> str:
    """What is wrong with one setting, in an operator's words (pydantic speaks of lists: "at least 1 item")."""
    ctx = error.get("ctx") or {}
    if error["type"] == "missing":
        return "is missing: add it to the secret"
    if error["type"] in ("too_short", "string_too_short"):
        if not ctx.get("actual_length"):
            return "is empty: fill it in"
        return f"must be at least {ctx.get('min_length')} characters long"
    return str(error["msg"])


def _parse(model: type[Settings], raw: dict[str, Any], label: str) -> Settings:
    try:
        settings = model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"setting '{'.'.join(str(p) for p in e['loc']) or '(secret)'}' {_setting_problem(e)}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError(f"{label}: " + "; ".join(problems)) from None
    for secret in settings.secret_values():
        register_secret(secret)
    return settings


def parse_subscription(raw: dict[str, Any]) -> SubscriptionSettings:
    """Validate one subscription; ConfigurationError names every bad setting, never a value."""
    label = f"subscription '{raw.get('Name') or raw.get('iPaaS System Id') or '?'}'"
    if raw.get("Platform") not in PLATFORMS:
        raise ConfigurationError(f"{label}: setting 'Platform' must be one of {', '.join(PLATFORMS)}")
    return _parse(settings_model(raw["Platform"]), raw, label)


def parse_webhook_keys(raw: dict[str, Any]) -> WebhookKeySettings:
    """Validate one subscription's webhook key settings; ConfigurationError names every bad setting, never a value."""
    return _parse(
        webhook_settings_model(str(raw.get("Platform"))),
        raw,
        f"webhook keys of subscription '{raw.get('Name') or raw.get('iPaaS System Id') or '?'}'",
    )


class SubscriptionRegistry(Generic[Settings]):
    """The subscriptions this deployment serves, looked up by iPaaS System Id (a notification's destination):
    their settings (parse_subscription, the default) or their webhook key settings (parse_webhook_keys)."""

    @overload
    def __init__(self: SubscriptionRegistry[SubscriptionSettings], raw_subscriptions: list[dict[str, Any]]) -> None: ...

    @overload
    def __init__(self, raw_subscriptions: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Settings]) -> None: ...

    def __init__(
        self, raw_subscriptions: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Any] = parse_subscription
    ) -> None:
        self._parse_one: Callable[[dict[str, Any]], Settings] = parse
        self._raw: dict[str, list[dict[str, Any]]] = {}
        for raw in raw_subscriptions:
            for key in SECRET_SETTINGS:
                if isinstance(raw.get(key), str):
                    register_secret(raw[key])
            self._raw.setdefault(str(raw.get("iPaaS System Id", "")).strip(), []).append(raw)
        self._parsed: dict[str, Settings | ConfigurationError] = {}

    def system_ids(self) -> list[str]:
        return [k for k in self._raw if k]

    def unassigned(self) -> list[str]:
        """Names of subscriptions without an iPaaS System Id (a secret not filled in yet)."""
        return [str(raw.get("Name") or raw.get("Platform") or "?") for raw in self._raw.get("", [])]

    def get(self, system_id: str) -> Settings:
        key = str(system_id).strip()
        if key not in self._parsed:
            self._parsed[key] = self._parse(key)
        found = self._parsed[key]
        if isinstance(found, ConfigurationError):
            raise found
        return found

    def _parse(self, key: str) -> Settings | ConfigurationError:
        candidates = self._raw.get(key)
        if not candidates:
            return ConfigurationError(f"no subscription is configured for destination '{key[:40]}'")
        if len(candidates) > 1:
            return ConfigurationError(f"{len(candidates)} subscriptions share iPaaS System Id '{key}'")
        try:
            return self._parse_one(candidates[0])
        except ConfigurationError as exc:
            return exc


_cache_lock = threading.Lock()
_cache: tuple[str, SubscriptionRegistry[SubscriptionSettings]] | None = None
_keys_cache: tuple[str, SubscriptionRegistry[WebhookKeySettings]] | None = None

# where each kind of secret comes from: (AWS secret ARNs, local file, local inline JSON), first that is set
SUBSCRIPTION_SOURCES = ("SUBSCRIPTION_SECRET_ARNS", "SUBSCRIPTIONS_FILE", "SUBSCRIPTIONS_JSON")
WEBHOOK_KEY_SOURCES = ("WEBHOOK_KEY_SECRET_ARNS", "WEBHOOK_KEYS_FILE", "WEBHOOK_KEYS_JSON")


def _load_raw(sources: tuple[str, str, str] = SUBSCRIPTION_SOURCES) -> list[dict[str, Any]]:
    return [item for _, item in _load_sourced(sources)]


def subscription_sources() -> dict[str, str]:
    """iPaaS System Id -> where its settings are: the secret's name, or SUBSCRIPTIONS_FILE / SUBSCRIPTIONS_JSON (for
    an operator's message: which secret to fix)."""
    return {str(item.get("iPaaS System Id", "")).strip(): source for source, item in _load_sourced(SUBSCRIPTION_SOURCES)}


def _load_sourced(sources: tuple[str, str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(where it came from, subscription object) for every subscription of the first source that is set."""
    arns_var, file_var, json_var = sources
    arns = [a.strip() for a in os.environ.get(arns_var, "").split(",") if a.strip()]
    items: list[tuple[str, Any]] = []
    value: Any  # a secret's JSON: one subscription object or a list of them
    if arns:
        for arn in arns:
            try:
                value = parameters.get_secret(arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
            except parameters.exceptions.TransformParameterError:
                raise ConfigurationError(f"secret {arn.rsplit(':', 1)[-1]} is not valid JSON") from None
            except parameters.exceptions.GetParameterError as exc:
                name = arn.rsplit(":", 1)[-1]
                cause = exc.__cause__ or exc.__context__ or exc
                raise ConfigurationError(f"cannot read secret {name}: {type(cause).__name__}") from None
            items.extend((f"secret {arn.rsplit(':', 1)[-1]}", v) for v in (value if isinstance(value, list) else [value]))
    elif os.environ.get(file_var):
        path = os.environ[file_var]
        try:
            with open(path, encoding="utf-8") as fh:
                value = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read {file_var} {path}: {type(exc).__name__}") from None
        items.extend((f"{file_var} {path}", v) for v in (value if isinstance(value, list) else [value]))
    elif os.environ.get(json_var):
        try:
            value = json.loads(os.environ[json_var])
        except ValueError:
            raise ConfigurationError(f"{json_var} is not valid JSON") from None
        items.extend((json_var, v) for v in (value if isinstance(value, list) else [value]))
    else:
        raise ConfigurationError(
            f"no {'webhook keys' if sources == WEBHOOK_KEY_SOURCES else 'subscriptions'} "
            f"configured: set {', '.join(sources[:2])} or {sources[2]}"
        )
    if not all(isinstance(i, dict) for _, i in items):
        raise ConfigurationError("each subscription must be a JSON object")
    return items


def _registry(
    raw: list[dict[str, Any]],
    cached: tuple[str, SubscriptionRegistry[Settings]] | None,
    parse: Callable[[dict[str, Any]], Settings],
) -> tuple[str, SubscriptionRegistry[Settings]]:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    if cached is None or cached[0] != digest:
        return digest, SubscriptionRegistry(raw, parse)
    return cached


def load_registry() -> SubscriptionRegistry[SubscriptionSettings]:
    """The current registry; rebuilt when the underlying settings change (secrets cached for max_age)."""
    global _cache
    raw = _load_raw()
    with _cache_lock:
        _cache = _registry(raw, _cache, parse_subscription)
        return _cache[1]


def load_webhook_keys() -> SubscriptionRegistry[WebhookKeySettings]:
    """The webhook keys of every subscription, by iPaaS System Id (WebhookKeySettings). Locally, without a
    WEBHOOK_KEYS_* source, the subscription objects of SUBSCRIPTIONS_FILE / SUBSCRIPTIONS_JSON (never the
    subscription secrets in AWS: the ingress may not read them)."""
    global _keys_cache
    if any(os.environ.get(v) for v in WEBHOOK_KEY_SOURCES) or not any(os.environ.get(v) for v in SUBSCRIPTION_SOURCES[1:]):
        raw = _load_raw(WEBHOOK_KEY_SOURCES)
    else:
        raw = _load_raw(("", *SUBSCRIPTION_SOURCES[1:]))
    with _cache_lock:
        _keys_cache = _registry(raw, _keys_cache, parse_webhook_keys)
        return _keys_cache[1]
