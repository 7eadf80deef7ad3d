"""Property: any message body is transferred or rejected with a reason, never crashes its batch, and no
secret ever reaches a log line (even when the body itself carries one)."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.destinations import TEST_LIMITS
from sandbox.local_aws import sqs_event
from sandbox.stack import NINETYNINE_SYSTEM_ID, LocalStack

Q = "CustomerNinetyNineMindsQueue"
FINAL = {"created", "updated", "duplicate", "skipped", "dead-lettered"}


@pytest.fixture(scope="module")
def stack(moto_server):
    s = LocalStack(moto=moto_server, limits=TEST_LIMITS).start()
    yield s
    s.stop()


def _secret_strategies(stack_secrets):
    return st.sampled_from(stack_secrets)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
record = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(0, 10**6), st.text(max_size=8)),
        "customer_number": scalars,
        "first_name": scalars,
        "last_name": scalars,
        "email_address": st.one_of(scalars, st.emails()),
        "phone_number": scalars,
        "addresses": st.one_of(
            scalars,
            st.lists(
                st.dictionaries(st.sampled_from(["is_primary_billing", "phone_number", "city"]), scalars, max_size=3), max_size=2
            ),
        ),
    },
)


def bodies(secrets):
    notification = st.fixed_dictionaries(
        {
            "scope": st.one_of(st.sampled_from(["customer/created", "customer/updated", "customer/deleted"]), st.text()),
            "id": st.one_of(st.integers(1, 50), st.text(max_size=6)),
            "destination": st.one_of(st.just(NINETYNINE_SYSTEM_ID), st.text(max_size=5), st.sampled_from(secrets)),
        },
        optional={
            "tracking_guid": st.one_of(st.uuids().map(str), st.sampled_from(secrets)),
            "record": record,
            "external_id": scalars,
        },
    )
    return st.one_of(
        notification.map(json.dumps),
        st.text(max_size=60),
        st.sampled_from(secrets).map(lambda s: json.dumps({"scope": "customer/created", "id": s})),
        st.dictionaries(st.text(max_size=10), scalars, max_size=4).map(json.dumps),
    )


@pytest.mark.integration
def test_arbitrary_bodies_are_transferred_or_rejected_with_a_reason(stack):
    from ipaas_sync.core.observability import logger

    secrets = [stack.ipaas.token, stack.ninetynine.api_key]
    arn = stack.deployment.physical[Q]["Arn"]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(bodies(secrets), min_size=1, max_size=6))
    def check(batch):
        messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh", "Body": b, "MD5OfBody": ""} for b in batch]
        buffer = io.StringIO()
        old = logger.registered_handler.setStream(buffer)
        before = len(stack.collector.outcomes)
        try:
            reply = stack.invoke("CustomerTransferFunction", sqs_event(messages, arn))  # never raises
        finally:
            logger.registered_handler.setStream(old)
        ids = {m["MessageId"] for m in messages}
        failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
        assert failed <= ids
        outcomes = stack.collector.outcomes[before:]
        assert len(outcomes) == len(batch)  # exactly one outcome per record
        for o in outcomes:
            assert o["status"] in FINAL or (o["status"] == "failed" and o["failure_kind"] == "transient")
            if o["status"] in ("dead-lettered", "failed", "skipped"):
                assert o.get("reason"), o
        text = buffer.getvalue()
        for secret in secrets:
            assert secret not in text

    check()
