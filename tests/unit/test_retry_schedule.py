"""The retry schedule for transient failures (runtime/retry.py): pure functions, a fake clock."""

from __future__ import annotations

import pytest

from ipaas_sync.platform.queues import failure_attributes
from ipaas_sync.runtime.retry import (
    MAX_ERROR_CLASSES,
    MAX_HOP_SECONDS,
    MAX_REASON,
    RetryHistory,
    RetryPolicy,
    after_failure,
    after_wait,
    dlq_previous,
    released,
    summary,
)

T0 = 1_800_000_000.0


def test_default_delays_are_ipaas_schedule():
    """10 x n x (n + 1) minutes after the n-th failure: 20 min, 1 h, 2 h, 3 h 20, 5 h, 7 h capped at 6 h."""
    policy = RetryPolicy()
    assert [policy.delay(n) / 60 for n in range(1, 7)] == [20, 60, 120, 200, 300, 360]
    with pytest.raises(ValueError):
        policy.delay(0)


def test_hops_never_exceed_sqs_fifteen_minutes_and_chain_to_the_due_time():
    policy = RetryPolicy()
    now, due = T0, T0 + 7200.4
    hops = []
    for _ in range(20):  # bounded: an 2 h wait is eight hops
        hop = policy.hop(due, now)
        if hop == 0:
            break
        hops.append(hop)
        now += hop
    assert max(hops) == MAX_HOP_SECONDS
    assert sum(hops) == 7200
    assert policy.hop(T0 - 5, T0) == 0


def test_a_record_is_retried_until_the_window_then_parked_with_its_whole_history():
    policy = RetryPolicy()
    history, retried, now = None, True, T0
    tries = []
    for n in range(50):  # bounded
        history, retried = after_failure(
            history, now=now, reason=f"HTTP 503 on try {n + 1}", error_class="HTTPError", policy=policy
        )
        tries.append(now)
        if not retried:
            break
        assert history.due > now
        now = history.due
    assert not retried
    # tries at 0, 20 min, 1 h 20, 3 h 20, 6 h 40, 11 h 40, 17 h 40, 23 h 40, and the last one at the window's end
    assert [round((t - T0) / 60) for t in tries] == [0, 20, 80, 200, 400, 700, 1060, 1420, 1440]
    assert history.attempts == len(tries) == 9
    assert history.first_at == T0 and history.last_at == T0 + 86400
    assert history.first_reason == "HTTP 503 on try 1" and history.last_reason == "HTTP 503 on try 9"
    assert history.errors == {"HTTPError": 9}


def test_retry_after_is_a_floor_for_the_delay_never_past_the_window():
    policy = RetryPolicy(step=1, window=100)
    history, retried = after_failure(None, now=T0, reason="r", error_class="E", policy=policy, retry_after=30)
    assert retried and history.due == T0 + 30
    history, retried = after_failure(None, now=T0, reason="r", error_class="E", policy=policy, retry_after=500)
    assert retried and history.due == T0 + 100  # the last try at the window's end


def test_waits_for_an_open_circuit_count_apart_and_share_the_window():
    policy = RetryPolicy(step=10, window=1000)
    history, waiting = after_wait(None, now=T0, reason="99minds circuit open", policy=policy, not_before=T0 + 60)
    assert waiting and history.waits == 1 and history.attempts == 0
    assert history.due == T0 + 60  # the circuit's next probe
    history, retried = after_failure(history, now=T0 + 60, reason="HTTP 502", error_class="HTTPError", policy=policy)
    assert retried and history.attempts == 1 and history.waits == 1
    assert history.due == T0 + 60 + 20  # its first failed try: the first step, 10 x 1 x 2 (waits are not tries)
    assert history.first_reason == "99minds circuit open" and history.last_reason == "HTTP 502"
    history, waiting = after_wait(history, now=T0 + 1000, reason="still open", policy=policy)
    assert not waiting and history.waits == 2  # the window is spent waiting: parked


def test_a_wait_lasts_until_the_next_probe_however_long_the_outage():
    """An hour's outage held a record back at every probe (60 s): each wait ends at the next probe, not on the schedule
    (which reached its 6 h cap after a few waits: the record then missed the recovery by hours), and its first failed
    try after the recovery waits the schedule's first step."""
    policy, history, now = RetryPolicy(), None, T0
    for _ in range(60):
        history, waiting = after_wait(history, now=now, reason="circuit open", policy=policy, not_before=now + 60)
        assert waiting and history.due == now + 60
        now = history.due
    assert history is not None and history.waits == 60 and history.attempts == 0
    history, retried = after_failure(history, now=now, reason="HTTP 503", error_class="HTTPError", policy=policy)
    assert retried and history.due == now + 1200
    # a probe time already past (a view not read again yet) still waits one whole SQS second, never a loop
    history, _ = after_wait(history, now=now, reason="circuit open", policy=policy, not_before=now - 5)
    assert history.due == now + 1


def test_released_by_a_close_after_its_last_failure_only():
    history, _ = after_failure(None, now=T0, reason="r", error_class="E", policy=RetryPolicy())
    assert not released(history, None)
    assert not released(history, T0 - 1)  # closed before it failed: it failed on its own, it keeps its schedule
    assert released(history, T0 + 1)


def test_history_is_bounded_whatever_it_meets():
    policy = RetryPolicy(step=1, window=10**9, max_delay=1)
    history = None
    for n in range(200):
        history, _ = after_failure(history, now=T0 + n, reason="x" * 5000, error_class=f"Error{n % 20}", policy=policy)
    assert history is not None
    assert len(history.errors) == MAX_ERROR_CLASSES + 1 and sum(history.errors.values()) == 200
    assert len(history.first_reason) == len(history.last_reason) == MAX_REASON
    assert len(history.model_dump_json()) < 2 * MAX_REASON + 600
    assert len(summary(history, policy)) < 600


def test_history_travels_in_a_body_and_back():
    history, _ = after_failure(None, now=T0, reason="timeout", error_class="ReadTimeout", policy=RetryPolicy())
    again = RetryHistory.model_validate_json(history.model_dump_json())
    assert again == history


def test_dlq_attributes_carry_the_whole_history():
    policy = RetryPolicy(step=1, window=60)
    history, now = None, T0
    for n in range(20):
        history, retried = after_failure(history, now=now, reason=f"HTTP 50{n % 3}", error_class="HTTPError", policy=policy)
        if not retried:
            break
        now = history.due
    assert history is not None and not retried
    attrs = failure_attributes(
        previous=dlq_previous(history, {}),
        kind="transient",
        error_class="HTTPError",
        reason=f"{history.last_reason}; {summary(history, policy)}",
        entity="customer",
        destination="dest",
        tracking_guid="g",
        receive_count=1,
        source_arn="arn:aws:sqs:us-east-1:1:q",
        message_id="m",
        body="{}",
    )
    values = {k: v["StringValue"] for k, v in attrs.items()}
    assert values["ipaas.attempts"] == str(history.attempts)
    assert values["ipaas.first_reason"] == "HTTP 500"
    assert values["ipaas.first_failed_at"].startswith("2027-01-15T08:00:00")
    assert f"{history.attempts} failed tries" in values["ipaas.reason"]
    assert "retry window 1 min" in values["ipaas.reason"] and "HTTPError" in values["ipaas.reason"]


def test_dlq_history_adds_to_a_replayed_message_history():
    history, _ = after_failure(None, now=T0, reason="now", error_class="E", policy=RetryPolicy())
    history, _ = after_failure(history, now=T0 + 1200, reason="later", error_class="E", policy=RetryPolicy())
    previous = {"ipaas.attempts": "5", "ipaas.first_reason": "last week", "ipaas.first_failed_at": "2026-01-01T00:00:00+00:00"}
    out = dlq_previous(history, previous)
    # 5 before the replay, this record's first try, and the last try's receive (added by failure_attributes)
    assert out["ipaas.attempts"] == "6"
    assert out["ipaas.first_reason"] == "last week" and out["ipaas.first_failed_at"].startswith("2026-01-01")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RETRY_STEP_SECONDS": "soon"}, "RETRY_STEP_SECONDS must be a number"),
        ({"RETRY_WINDOW_SECONDS": "0"}, "RETRY_WINDOW_SECONDS must be positive"),
        ({"RETRY_MAX_HOP_SECONDS": "901"}, "RETRY_MAX_HOP_SECONDS must be positive and at most 900"),
    ],
)
def test_policy_from_env_names_the_bad_variable(env, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy.from_env(env)


def test_policy_from_env_scales_the_same_schedule():
    policy = RetryPolicy.from_env({"RETRY_STEP_SECONDS": "0.5", "RETRY_WINDOW_SECONDS": "120", "RETRY_MAX_HOP_SECONDS": "2"})
    assert policy == RetryPolicy(step=0.5, window=120, max_hop=2)
    assert RetryPolicy.from_env({}) == RetryPolicy()
