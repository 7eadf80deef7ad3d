"""What a transfer needs from the outside world, built once per container and reused across invocations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..core.errors import ConfigurationError
from ..core.settings import SubscriptionRegistry, SubscriptionSettings, load_registry
from ..destinations import PLATFORMS, by_platform, load
from ..ipaas.client import IpaasClient

Client = TypeVar("Client")


class TransferEnv:
    def __init__(self, registry_loader: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry):
        self._load = registry_loader
        self._clients: dict[tuple[str, SubscriptionSettings], Any] = {}
        self._lock = threading.Lock()

    def register_secrets(self) -> None:
        """Load the settings once, so that every secret value in them is registered for masking (core/settings.py). A
        failure here is not the batch's: each record then reports it (as a ConfigurationError) on its own."""
        try:
            self._load()
        except Exception:  # noqa: BLE001,S110 - reported per record by subscription()
            pass

    def destinations(self) -> list[str]:
        """The configured destinations (iPaaS System Ids): the only values a metric dimension takes."""
        return self._load().system_ids()

    def subscription(self, system_id: str) -> SubscriptionSettings:
        return self._load().get(system_id)

    def ipaas(self, settings: SubscriptionSettings) -> IpaasClient:
        return self._client("ipaas", settings, IpaasClient)

    def partner(self, settings: SubscriptionSettings) -> Any:
        """The adapter of the subscription's platform (the registry's client), one per settings. Typed by its
        caller, the destination's own transfer (`client: StampedClient = env.partner(sub)`)."""
        if settings.platform not in PLATFORMS:
            raise ConfigurationError(f"no adapter for platform '{settings.platform}'")
        return self._client(settings.platform, settings, load(by_platform(settings.platform).client))

    def partner_limiter(self, system_id: str) -> Any:
        """The shared rate limiter of the destination a subscription writes to, or None (no such subscription,
        no adapter, no limiter configured): what runtime/processing.py books a batch's slots on."""
        try:
            return self.partner(self.subscription(system_id)).limiter
        except Exception:  # noqa: BLE001 - the record reports its own configuration error when it runs
            return None

    def _client(self, kind: str, settings: SubscriptionSettings, factory: Callable[[Any], Client]) -> Client:
        # keyed on the (frozen, hashable) settings themselves: changed settings or a rotated secret build a
        # new client, and the key keeps its settings alive (an id() could be reused by a new object)
        key = (kind, settings)
        with self._lock:
            client: Client | None = self._clients.get(key)  # what factory built for this key (never None)
            if client is None:
                client = self._clients[key] = factory(settings)
            return client
