"""What a transfer needs from the outside world, built once per container and reused across invocations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..clients.ipaas import IpaasClient
from ..clients.makini import MakiniClient
from ..clients.ninetynine_minds import NinetyNineMindsClient
from ..clients.stamped import StampedClient
from ..errors import ConfigurationError
from ..settings import (
    MakiniSettings,
    NinetyNineMindsSettings,
    StampedSettings,
    SubscriptionRegistry,
    SubscriptionSettings,
    load_registry,
)

# platform -> adapter factory. A new destination adds one line here and one adapter module.
PARTNER_CLIENTS: dict[str, Callable[[Any], Any]] = {
    "99minds": NinetyNineMindsClient,
    "stamped": StampedClient,
    "makini": MakiniClient,
}
Client = TypeVar("Client")


class TransferEnv:
    def __init__(self, registry_loader: Callable[[], SubscriptionRegistry[SubscriptionSettings]] = load_registry):
        self._load = registry_loader
        self._clients: dict[tuple[str, SubscriptionSettings], Any] = {}
        self._lock = threading.Lock()

    def register_secrets(self) -> None:
        """Load the settings once, so that every secret value in them is registered for masking (settings.py). A
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

    @overload
    def partner(self, settings: NinetyNineMindsSettings) -> NinetyNineMindsClient: ...

    @overload
    def partner(self, settings: StampedSettings) -> StampedClient: ...

    @overload
    def partner(self, settings: MakiniSettings) -> MakiniClient: ...

    @overload
    def partner(self, settings: SubscriptionSettings) -> Any: ...

    def partner(self, settings: SubscriptionSettings) -> Any:
        """The adapter of the subscription's platform (PARTNER_CLIENTS), one per settings."""
        factory = PARTNER_CLIENTS.get(settings.platform)
        if factory is None:
            raise ConfigurationError(f"no adapter for platform '{settings.platform}'")
        return self._client(settings.platform, settings, factory)

    def partner_limiter(self, system_id: str) -> Any:
        """The shared rate limiter of the destination a subscription writes to, or None (no such subscription,
        no adapter, no limiter configured): what processing.py books a batch's slots on."""
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
