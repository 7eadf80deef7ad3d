import threading

import pytest

from ipaas_sync.core.errors import TransientError
from ipaas_sync.platform import deadline
from ipaas_sync.platform.pacing import WritePacer


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def writes(pacer, clock, n, gap=0.0):
    for i in range(n):
        pacer.before_write(f"record {i}")
        clock.now += gap
        pacer.after_write()


def test_pauses_after_every_batch():
    clock = Clock()
    pacer = WritePacer(3, 2.0, clock=clock, sleep=clock.sleep)
    writes(pacer, clock, 7, gap=0.1)
    assert clock.slept == [2.0, 2.0] and pacer.batches_started == 3


def test_a_gap_that_already_passed_is_not_waited_again():
    clock = Clock()
    pacer = WritePacer(2, 2.0, clock=clock, sleep=clock.sleep)
    writes(pacer, clock, 2)
    clock.now += 1.5  # e.g. the next invocation started later
    writes(pacer, clock, 1)
    assert clock.slept == [0.5]


def test_the_gap_starts_when_the_last_write_of_a_batch_still_under_way_ends():
    # a batch's records run on threads: the next batch's first write waits for the full batch's writes to end, then
    # for the gap (it used to find no write finished yet and go at once)
    clock = Clock()
    pacer = WritePacer(2, 2.0, clock=clock, sleep=clock.sleep)
    pacer.before_write("record 0")
    pacer.before_write("record 1")
    third = threading.Thread(target=pacer.before_write, args=("record 2",))
    third.start()
    third.join(0.2)
    assert third.is_alive()  # held while the batch's two writes are under way
    pacer.after_write()
    clock.now += 0.5
    pacer.after_write()
    third.join(5)
    assert not third.is_alive() and clock.slept == [2.0] and pacer.batches_started == 2


def test_no_pause_past_the_invocation():
    clock = Clock()
    pacer = WritePacer(1, 30.0, clock=clock, sleep=clock.sleep)
    writes(pacer, clock, 1)
    deadline.set_seconds(10)
    try:
        with pytest.raises(TransientError, match="does not fit in this invocation: record 0 is redelivered"):
            pacer.before_write("record 0")
    finally:
        deadline.set_seconds(None)
    assert clock.slept == []


def test_invalid_arguments():
    with pytest.raises(ValueError):
        WritePacer(0, 1)
