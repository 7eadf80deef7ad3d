"""The shared DynamoDB rate limiter, on moto (in-process) with a fake clock."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ipaas_sync import deadline
from ipaas_sync.errors import TransientError
from ipaas_sync.throttle import DynamoRateLimiter


class Clock:
    def __init__(self, now: float = 1_000_020.0):  # 20 s into a 60 s window
        self.now = now
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="throttle", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        deadline.set_seconds(600)
        yield client
        deadline.set_seconds(None)


def limiter(ddb, clock, limit=5, seconds=60, key="99minds:host"):
    return DynamoRateLimiter("throttle", key, limit, seconds, client=ddb, clock=clock, sleep=clock.sleep)


def test_limit_is_never_exceeded_within_a_window_across_instances(ddb):
    clock = Clock()
    a, b = limiter(ddb, clock), limiter(ddb, clock)  # two "functions" sharing the limit
    for _ in range(5):
        (a if clock.now % 2 else b).acquire()
    assert clock.slept == 0
    a.acquire()  # the sixth call must wait for the next window
    assert clock.slept > 0
    assert clock.now >= 1_000_020.0 + 40 - 1  # not before the window rolled (sliding weight of 5 prior calls)


def test_sliding_window_weights_the_previous_window(ddb):
    clock = Clock(now=1_000_020.0)
    lim = limiter(ddb, clock, limit=10)
    for _ in range(10):
        lim.acquire()
    clock.now = 1_000_080.0 + 6  # 10% into the next window: previous counts 90% -> 1 slot
    lim.acquire()
    assert clock.slept == 0
    lim.acquire()
    assert clock.slept > 0


def test_no_slot_before_the_deadline_is_a_transient_error(ddb):
    clock = Clock()
    lim = limiter(ddb, clock, limit=1)
    lim.acquire()
    deadline.set_seconds(5)
    with pytest.raises(TransientError, match="no slot before this invocation ends"):
        lim.acquire()


def test_429_blocks_until_retry_after_and_repeated_429s_slow_down(ddb):
    clock = Clock()
    lim = limiter(ddb, clock, limit=8)
    lim.penalize(retry_after=7)
    lim.acquire()
    assert 7 <= clock.slept < 8
    lim.penalize(retry_after=1)  # a repeated 429 -> level 2: a quarter of the limit (2 per window)
    clock.sleep(1.5)
    start = clock.slept
    lim.acquire()
    assert clock.slept == start  # 1 used this window + this one = 2
    lim.acquire()
    assert clock.slept > start  # a third call must wait: the effective limit is 2


def test_the_429s_of_one_burst_slow_down_once(ddb):
    """Concurrent calls already under way when the first 429 came back get theirs too: one event, one level."""
    clock = Clock()
    lim = limiter(ddb, clock, limit=8)
    for _ in range(4):
        lim.penalize(retry_after=2)     # four invocations, four 429s, the same moment
    clock.sleep(2.5)                    # the block is over; slowed to half: 4 per window
    start = clock.slept
    for _ in range(4):
        lim.acquire()
    assert clock.slept == start
    lim.acquire()
    assert clock.slept > start
