"""What a destination's sandbox (sandbox/<package>.py) tells the local stack and the contract suite: its KIT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .server import SandboxServer


@dataclass(frozen=True)
class SandboxKit:
    """One destination's sandbox, as the local stack and the contract suite use it."""

    attribute: str  # the local stack's name for it (stack.ninetynine) and its RateLimits entry
    system_id: str  # the iPaaS System Id of its local subscription
    server: Callable[..., SandboxServer]  # its sandbox class (keyword rate_limit=(calls, seconds))
    limit: tuple[int, float]  # the partner's limit, published or the settings' default
    settings: Callable[[Any], dict[str, Any]]  # its subscription's own settings (credentials) pointing at a sandbox
    webhook_key: str | None  # its webhook key secret's key; None: the stack's own (LocalStack.webhook_key)
    # -- the contract (tests/contract): every destination takes customers from iPaaS.com -------------------------
    credential: str  # a setting the partner checks: a wrong value is answered 401
    # (n, last name) -> customer n's payload, as the destination's mapping writes it (last name "L<n>" unless given)
    customer: Callable[..., dict[str, Any]]
    create_customer: Callable[[Any, dict[str, Any]], str]  # (client, payload) -> the customer's key there
    get_customer: Callable[[Any, str], Any]  # (client, key) -> the customer, or None when there is none
    stored_customers: Callable[[Any], int]  # (server) -> how many customers it holds
    # -- the fault suite (tests/integration/test_fault_suite.py): its customers under faults -------------------------
    customer_key: Callable[[dict[str, Any]], str]  # an iPaaS.com customer record -> its business key there (email, code)
    customer_create: str  # the client method that writes a new customer (an invocation is killed right after it)
    add_customer: Callable[[Any, str], str]  # (server, business key) -> the key of a customer put there directly
    # (server) -> (key, business key, name as "first last") of every customer it holds
    held_customers: Callable[[Any], list[tuple[str, str, str]]]
    # (server) -> (business key, fault) of every customer create it applied (the fault: an answer lost after it)
    created_customers: Callable[[Any], list[tuple[str, str | None]]]
    update_customer: Callable[[Any, str, dict[str, Any]], Any] | None = None  # None: the partner has no update
    find_customer: Callable[[Any, dict[str, Any]], str | None] | None = None  # its existence check by business key
    read_path: str = "/"  # a path prefix its customer reads go to (faults aimed at reads)
    write_path: str = "/"  # and its customer writes
