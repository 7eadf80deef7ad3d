"""A rate limiter per destination, shared by every function and every concurrent invocation.

99minds counts 150 requests per minute per IP for all our calls together, so the count must live
outside any one process: in a DynamoDB table, with conditional writes. Powertools has no rate limiter;
this is the small piece written by hand.

Algorithm: sliding-window counter. Each window of `seconds` has a counter item; a call is allowed when
    count(current window) + count(previous window) * (1 - elapsed fraction of current window) < limit
and the increment is a conditional UpdateItem, so concurrent callers can never exceed the limit.
A 429 from the partner (penalize) blocks the key until its Retry-After and halves the effective limit
for a few windows per repeated 429, so the limiter slows down instead of hammering. The 429s that concurrent
calls get from one burst count once (measured by bench/throttle_benchmark.py: counted one by one, one burst
took the limiter to an eighth of the limit for minutes).
"""
from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import ClientError

from . import deadline
from .errors import TransientError

SLOWDOWN_WINDOWS = 5
MAX_PENALTY_LEVEL = 3


class DynamoRateLimiter:
    def __init__(self, table_name: str, key: str, limit: int, seconds: int, *, client=None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        if limit <= 0 or seconds <= 0:
            raise ValueError("limit and seconds must be positive")
        self.table_name = table_name
        self.key = key
        self.limit = limit
        self.seconds = seconds
        self._ddb = client or boto3.client("dynamodb")
        self._clock = clock
        self._sleep = sleep
        self.waited_seconds = 0.0

    # -- public -----------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take one slot, waiting while the invocation has time; otherwise raise TransientError."""
        while True:
            wait = self._try_acquire()
            if wait is None:
                return
            if wait + 0.5 > deadline.remaining():
                raise TransientError(
                    f"rate limit {self.limit}/{self.seconds}s for {self.key}: no slot before this invocation "
                    f"ends; redelivered later", retry_after=wait)
            wait += random.uniform(0, min(0.25, wait))  # jitter: concurrent waiters do not retry in step
            self.waited_seconds += wait
            self._sleep(wait)

    def penalize(self, retry_after: float | None) -> None:
        """The partner answered 429: block until Retry-After and slow down for a few windows.

        One burst of 429s is one event: the concurrent calls that were already under way when the first 429 came
        back get theirs too, and each one calling this must not slow the limiter down once more. Only a 429 that
        comes after the previous one's block is over (a repeat) takes the slowdown one level further.
        """
        now = self._clock()
        blocked_until = now + (retry_after if retry_after and retry_after > 0 else self.seconds / 4)
        state = {"pk": {"S": f"{self.key}#state"}}
        block = {":b": {"N": f"{blocked_until:.3f}"}, ":e": {"N": str(int(now) + 3600)}}
        slow = {**block, ":s": {"N": f"{now + SLOWDOWN_WINDOWS * self.seconds:.3f}"}, ":now": {"N": f"{now:.3f}"},
                ":one": {"N": "1"}}
        # each step sets the block in the same conditional write, so the other 429s of the same burst (arriving
        # while it holds) find it and only extend it
        if self._conditional_update(  # a repeat: still slowed down, and the previous block is over
                state, "SET slow_until = :s, blocked_until = :b, expires_at = :e ADD penalty_level :one",
                "slow_until > :now AND (attribute_not_exists(blocked_until) OR blocked_until <= :now)", slow):
            return
        if self._conditional_update(  # the first 429 in a while
                state, "SET slow_until = :s, penalty_level = :one, blocked_until = :b, expires_at = :e",
                "(attribute_not_exists(slow_until) OR slow_until <= :now) AND "
                "(attribute_not_exists(blocked_until) OR blocked_until < :b)", slow):
            return
        self._conditional_update(  # one more 429 of a burst already counted
            state, "SET blocked_until = :b, expires_at = :e", "attribute_not_exists(blocked_until) OR blocked_until < :b",
            block)

    def _conditional_update(self, key: dict, update: str, condition: str, values: dict) -> bool:
        """One conditional UpdateItem on the limiter's table; False when the condition did not hold."""
        try:
            self._ddb.update_item(TableName=self.table_name, Key=key, UpdateExpression=update,
                                  ConditionExpression=condition, ExpressionAttributeValues=values)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    # -- internals --------------------------------------------------------------------------------
    def _try_acquire(self) -> float | None:
        """None when a slot was taken, else the seconds to wait before trying again."""
        now = self._clock()
        window = int(now // self.seconds)
        elapsed = (now - window * self.seconds) / self.seconds
        previous, state = self._read(window - 1)

        blocked_until = float(state.get("blocked_until", {}).get("N", 0))
        if blocked_until > now:
            return blocked_until - now
        limit = self.limit
        if float(state.get("slow_until", {}).get("N", 0)) > now:
            level = min(int(state.get("penalty_level", {}).get("N", "1")), MAX_PENALTY_LEVEL)
            limit = max(1, int(self.limit / (2 ** level)))

        weighted_previous = previous * (1.0 - elapsed)
        allowed = math.floor(limit - weighted_previous)
        if allowed <= 0:
            # wait until the previous window's weight has decayed enough for one call
            needed = 1.0 - (limit - 1) / previous if previous else 1.0
            return max(0.05, (needed - elapsed) * self.seconds)
        try:
            self._ddb.update_item(
                TableName=self.table_name, Key={"pk": {"S": f"{self.key}#{window}"}},
                UpdateExpression="ADD cnt :one SET expires_at = :e",
                ConditionExpression="attribute_not_exists(cnt) OR cnt < :allowed",
                ExpressionAttributeValues={":one": {"N": "1"}, ":allowed": {"N": str(allowed)},
                                           ":e": {"N": str(int(now) + 3 * self.seconds + 60)}},
            )
            return None
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        # this window is full for now: the allowance grows as the previous window decays
        until_next_window = (1.0 - elapsed) * self.seconds
        return max(0.05, min(until_next_window, self.seconds / max(limit, 1)))

    def _read(self, previous_window: int) -> tuple[int, dict]:
        keys = [{"pk": {"S": f"{self.key}#{previous_window}"}}, {"pk": {"S": f"{self.key}#state"}}]
        resp = self._ddb.batch_get_item(RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}})
        previous, state = 0, {}
        for item in resp.get("Responses", {}).get(self.table_name, []):
            if item["pk"]["S"].endswith("#state"):
                state = item
            else:
                previous = int(item.get("cnt", {}).get("N", "0"))
        return previous, state


_limiters: dict[tuple[str, int, int], DynamoRateLimiter] = {}


def limiter_for(key: str, limit: int, seconds: int) -> DynamoRateLimiter | None:
    """The shared limiter for a destination key, or None where no THROTTLE_TABLE is configured."""
    table = os.environ.get("THROTTLE_TABLE")
    if not table:
        return None
    cache_key = (key, limit, seconds)
    if cache_key not in _limiters:
        _limiters[cache_key] = DynamoRateLimiter(table, key, limit, seconds)
    return _limiters[cache_key]
