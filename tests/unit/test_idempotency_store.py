"""The Powertools idempotency store is built once per container, from boto3's default session."""

from __future__ import annotations

import boto3
import pytest

from ipaas_sync.runtime import idempotency
from tests.conftest import at_once


@pytest.fixture
def fresh_store(monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "idempotency")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(idempotency, "_persistence", None)
    built: list[str] = []
    real = boto3.client

    def counting_client(service, *args, **kwargs):
        built.append(service)
        return real(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)
    return built


def test_the_record_threads_of_a_cold_batch_share_one_store_and_one_client(fresh_store):
    # a cold container's first batch runs its records in threads, all reaching the store at once: one of them
    # builds it; before, each built a botocore session of its own (several seconds in all under contention)
    stores = at_once(idempotency.persistence)
    assert len(stores) == 8 and len({id(s) for s in stores}) == 1
    assert fresh_store == ["dynamodb"]  # through boto3.client: the default session, its models loaded once
    assert stores[0].client.meta.service_model.service_name == "dynamodb"
