"""Where a subscription's mapping override lives: one SSM Parameter Store parameter per subscription,
`<prefix>/mappings/<platform>/<subscription id>` (prefix: the stack's, e.g. /ipaas-sync; platform: the destination's,
e.g. 99minds), holding the override's JSON. The platform is in the name so that each function's role may read the
overrides of the destinations it serves and no other (scripts/destinations.py writes those grants per destination).

Why SSM Parameter Store (docs/mappings.md has the comparison):
- every change is a new parameter version with its time and the IAM identity that made it, kept by AWS (the last
  100): `ipaas-sync mapping history` lists them, `rollback` re-deploys an earlier version's value as a new version
  (one command; the history stays linear and auditable);
- a change takes effect without a stack deployment (a file deployed with the stack would need one per merchant
  change), within the cache age below;
- moto implements it (put, get, history), so the tests and the local stack run the real code path; AWS AppConfig
  has deployment strategies and validators too, but its data plane (appconfigdata) is not in moto, and its
  strategies are more than a mapping change needs;
- the subscription's secret holds credentials: keeping mappings out of it keeps who may change a mapping apart
  from who may read a partner key (and a secret is not meant to be read in an operator's terminal);
- an override holds only what it changes, so it fits the standard tier (4 KB); a larger one is stored in the
  advanced tier automatically (Intelligent-Tiering).
Validated before it takes effect: `deploy` and `rollback` lay the override over the default collections and compile
them (validate.py) before writing anything; the transfer validates again when it loads (a parameter edited by
hand in the console that does not validate parks that subscription's records with the reason).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.errors import ConfigurationError
from .collection import Collection, apply_overrides
from .sources import subscription_platform
from .validate import CompiledCollection, compile_all

CACHE_SECONDS = 60  # how long a Lambda keeps an override before reading it again (a change takes effect within it)


def parameter_name(prefix: str, platform: str, subscription_id: str) -> str:
    return f"{prefix.rstrip('/')}/mappings/{platform}/{subscription_id}"


def platforms_of(defaults: list[Collection], override: Any) -> set[str]:
    """The platforms of the subscriptions whose collections an override document changes (sources.subscription_platform:
    the 99minds -> iPaaS.com collections are the 99minds subscription's)."""
    by_name = {c.name: subscription_platform(c.destination, c.source) for c in defaults}
    changes = [c for c in (override.get("collections", []) if isinstance(override, dict) else []) if isinstance(c, dict)]
    found = {
        by_name.get(c["extends"], "")
        if "extends" in c
        else subscription_platform(str(c.get("destination")), str(c.get("source")))
        for c in changes
    }
    return found - {""}


@dataclass(frozen=True)
class Version:
    version: int
    modified: datetime | None
    user: str
    description: str
    document: Any


def compile_with(defaults: list[Collection], override: Any, where: str) -> dict[tuple[str, str], CompiledCollection]:
    """The subscription's collections (defaults + override), validated and compiled; ConfigurationError otherwise."""
    return compile_all(apply_overrides(defaults, override, where))


def parse_document(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{where}: not JSON ({exc.msg}, line {exc.lineno}, column {exc.colno})") from None


class OverrideStore:
    """The overrides of one stack: read, deploy (validated first), history, rollback. `ssm`: a boto3 SSM client
    (typed Any: the project installs no SSM type stubs)."""

    def __init__(self, ssm: Any, prefix: str, defaults: list[Collection]):
        self.ssm, self.prefix, self.defaults = ssm, prefix, defaults

    def name(self, platform: str, subscription_id: str) -> str:
        return parameter_name(self.prefix, platform, subscription_id)

    def locate(self, subscription_id: str) -> str | None:
        """The platform of the subscription's deployed override (None: it has none), found under <prefix>/mappings:
        the operator names a subscription by its iPaaS System Id alone, as in every other command."""
        kwargs: dict[str, Any] = {"Path": f"{self.prefix.rstrip('/')}/mappings", "Recursive": True}
        for _ in range(100):  # bounded: a stack holds one parameter per subscription, 10 per page
            page = self.ssm.get_parameters_by_path(**kwargs)
            for item in page.get("Parameters", []):
                platform, _, sid = item["Name"].rpartition("/mappings/")[2].partition("/")
                if sid == subscription_id:
                    return str(platform)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return None

    def platform_for(self, subscription_id: str, document: Any = None) -> str:
        """Where a deploy writes: the one platform the override's collections belong to, else the deployed one."""
        found = platforms_of(self.defaults, document) or {p for p in [self.locate(subscription_id)] if p}
        if len(found) != 1:
            what = "changes collections of " + ", ".join(sorted(found)) if found else "names no destination's collection"
            raise ConfigurationError(
                f"override for subscription {subscription_id}: it {what}; an override is for one destination's subscription"
            )
        return found.pop()

    def current(self, subscription_id: str) -> Version | None:
        platform = self.locate(subscription_id)
        if platform is None:
            return None
        try:
            found = self.ssm.get_parameter(Name=self.name(platform, subscription_id))["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        where = f"mapping override {found['Name']} version {found['Version']}"
        return Version(found["Version"], found.get("LastModifiedDate"), "", "", parse_document(found["Value"], where))

    def history(self, subscription_id: str) -> list[Version]:
        """Every kept version, oldest first."""
        out: list[Version] = []
        platform = self.locate(subscription_id)
        if platform is None:
            return []
        kwargs: dict[str, Any] = {"Name": self.name(platform, subscription_id)}
        try:
            for _ in range(100):  # bounded: AWS keeps at most 100 versions, 50 per page
                page = self.ssm.get_parameter_history(**kwargs)
                for item in page.get("Parameters", []):
                    where = f"mapping override {item['Name']} version {item['Version']}"
                    out.append(
                        Version(
                            item["Version"],
                            item.get("LastModifiedDate"),
                            str(item.get("LastModifiedUser", "")),
                            str(item.get("Description", "")),
                            parse_document(item["Value"], where),
                        )
                    )
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except self.ssm.exceptions.ParameterNotFound:
            return []
        return sorted(out, key=lambda v: v.version)

    def deploy(self, subscription_id: str, document: Any, note: str = "") -> int:
        """Validate the override over the defaults, then store it as the next version; the version number."""
        compile_with(self.defaults, document, f"override for subscription {subscription_id}")
        platform = self.platform_for(subscription_id, document)
        return self._put(subscription_id, platform, document, note or "ipaas-sync mapping deploy")

    def _put(self, subscription_id: str, platform: str, document: Any, note: str) -> int:
        reply = self.ssm.put_parameter(
            Name=self.name(platform, subscription_id),
            Value=json.dumps(document, indent=1, sort_keys=False),
            Type="String",
            Overwrite=True,
            Tier="Intelligent-Tiering",
            Description=note[:1024],
        )
        return int(reply["Version"])

    def rollback(self, subscription_id: str, to_version: int | None = None) -> tuple[int, int]:
        """Re-deploy an earlier version (default: the one before the current; before the first: the defaults, an
        empty override) as a new version, validated like any deploy. Returns (the version restored, 0 for the
        defaults; the new version number)."""
        versions = self.history(subscription_id)
        if not versions:
            raise ConfigurationError(f"subscription {subscription_id}: no mapping override to roll back (the defaults apply)")
        if to_version is None and len(versions) == 1:
            return 0, self._put(
                subscription_id, self.locate(subscription_id) or "", {"collections": []}, "rollback to the defaults"
            )
        target = versions[-2] if to_version is None else next((v for v in versions if v.version == to_version), None)
        if target is None:
            known = ", ".join(str(v.version) for v in versions) or "none"
            raise ConfigurationError(f"subscription {subscription_id}: no mapping override version {to_version} (kept: {known})")
        new = self.deploy(subscription_id, target.document, f"rollback to version {target.version}")
        return target.version, new


class SubscriptionCollections:
    """What a transfer asks: the compiled collections of one subscription, the defaults loaded and compiled once per
    cold start, its override read through Powertools' SSM provider (cached CACHE_SECONDS) and compiled once per
    version. A subscription whose override does not validate raises ConfigurationError (its records park with the
    reason); the others are unaffected. Without a parameter prefix (no stack) only the defaults apply."""

    def __init__(self, defaults: list[Collection], prefix: str | None, ssm: Any = None):
        self.defaults, self.prefix, self._ssm = defaults, prefix, ssm
        self._default_compiled: dict[tuple[str, str], CompiledCollection] | None = None
        self._compiled: dict[str, tuple[str, dict[tuple[str, str], CompiledCollection]]] = {}
        self._provider: Any = None
        self._missing: dict[str, float] = {}  # parameter -> when it was found absent
        # A batch's records run in threads and the first ones all ask at once: collections are compiled by one thread
        # at a time, once (CPython 3.11's ast.parse is not safe across threads: "AST constructor recursion depth
        # mismatch" SystemErrors were seen when a cold container's first records compiled together).
        self._compiling = threading.Lock()

    def _override_text(self, platform: str, subscription_id: str) -> str | None:
        from aws_lambda_powertools.utilities.parameters import GetParameterError, SSMProvider

        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._ssm) if self._ssm is not None else SSMProvider()
        name = parameter_name(self.prefix or "", platform, subscription_id)
        missing_since = self._missing.get(name)
        if missing_since is not None and time.monotonic() - missing_since < CACHE_SECONDS:
            return None  # Powertools caches values, not their absence: a subscription without an override asks again
        try:
            value = self._provider.get(name, max_age=CACHE_SECONDS)
        except GetParameterError as exc:
            if "ParameterNotFound" in repr(exc.__cause__) or "ParameterNotFound" in str(exc):
                self._missing[name] = time.monotonic()
                return None
            raise
        self._missing.pop(name, None)
        return value if isinstance(value, str) else None

    def get(self, platform: str, subscription_id: str) -> dict[tuple[str, str], CompiledCollection]:
        if self._default_compiled is None:
            with self._compiling:
                if self._default_compiled is None:
                    self._default_compiled = compile_all(self.defaults)
        text = self._override_text(platform, subscription_id) if self.prefix else None
        if text is None:
            return self._default_compiled
        cached = self._compiled.get(subscription_id)
        if cached is None or cached[0] != text:
            with self._compiling:
                cached = self._compiled.get(subscription_id)
                if cached is None or cached[0] != text:
                    where = f"mapping override {parameter_name(self.prefix or '', platform, subscription_id)}"
                    cached = (text, compile_with(self.defaults, parse_document(text, where), where))
                    self._compiled[subscription_id] = cached
        return cached[1]
