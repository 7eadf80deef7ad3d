"""What admission (runtime/admission.py) sees for a retrying record once its destination recovered: pure, a fixed
clock (the batch path itself runs in tests/integration/test_outage.py and the fault suite)."""

from __future__ import annotations

from ipaas_sync.core.models.notification import TransferMessage
from ipaas_sync.runtime.admission import _due_for_admission
from ipaas_sync.runtime.retry import RetryPolicy, after_failure

T0 = 1_800_000_000.0
POLICY = RetryPolicy(step=10, window=10_000)


def _retrying(deferred_until: float) -> TransferMessage:
    history, _ = after_failure(None, now=T0, reason="HTTP 503", error_class="HTTPError", policy=POLICY)
    return TransferMessage(scope="customer/created", id="c1", destination="d", retry=history, deferred_until=deferred_until)


def test_a_record_waiting_for_its_retry_is_due_at_once_when_the_circuit_closed_after_its_failure():
    msg = _retrying(deferred_until=T0 + 20)  # on its way to its retry's due time (20 s)
    assert msg.retry is not None and msg.deferred_until == msg.retry.due
    assert _due_for_admission(msg, released_at=T0 + 5, now=T0 + 6) == T0 + 6
    assert _due_for_admission(msg, released_at=T0 - 5, now=T0 + 6) == T0 + 20  # closed before it failed: its schedule


def test_a_released_record_the_rate_limit_deferred_waits_for_its_slot():
    """Released, then deferred by the rate limit to its slot (deferred_until no longer its retry's due): it waits for
    that slot. Pulled forward at every hop, it booked the limiter's horizon again each time (the outage benchmark's
    drain after recovery ran at 0.26 of the limit)."""
    msg = _retrying(deferred_until=T0 + 45.5)
    assert _due_for_admission(msg, released_at=T0 + 5, now=T0 + 30) == T0 + 45.5
