"""The local stack's side of the destination registry (shared/ipaas_sync/destinations): each destination's sandbox
(sandbox/<package>.py) says, in its KIT (sandbox/kit.py), how the local stack runs it and how the contract suite (tests/contract)
proves its adapter against it. Nothing here names a destination: a new one is a sandbox module with a KIT.
"""

from __future__ import annotations

import importlib

from ipaas_sync.destinations import REGISTRY, Destination

from .kit import SandboxKit
from .server import IPAAS_LIMIT, RateLimits


def kit(destination: Destination) -> SandboxKit:
    kit_: SandboxKit = importlib.import_module(f"sandbox.{destination.package}").KIT
    return kit_


def kits() -> dict[str, SandboxKit]:
    """platform -> its sandbox kit, in registry order."""
    return {d.platform: kit(d) for d in REGISTRY}


# The partners' limits: each sandbox's own, and the local stack's unless it is given others (the demo, `make serve`,
# the benchmark run at these).
PARTNER_LIMITS = RateLimits(ipaas=IPAAS_LIMIT, **{k.attribute: k.limit for k in kits().values()})
# The integration tests' limits: a minute's calls in every second, so the limiter's even spacing (seconds / calls
# apart: 0.4 s a 99minds call at the partners' limits) costs milliseconds. A test of throttling, deferral or 429 gives
# the limits it asserts on (tests/integration/test_deferral.py, test_fault_suite.py).
TEST_LIMITS = PARTNER_LIMITS.faster(60)
