import io
import os
import threading

import pytest
from hypothesis import settings

from sandbox.local_aws import LOCAL_STACK_NAME

# Hypothesis's per-example deadline (200 ms) is a timing assertion: on a loaded two-core machine (CI, or tests beside
# other work) a pure example can take longer and fail as "flaky". Speed is measured by `make bench`, never by tests.
settings.register_profile("ipaas-sync", deadline=None)
settings.load_profile("ipaas-sync")

# Defaults for every test process; the local stack overrides the AWS endpoint with its moto server.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
# what template.yaml gives the local stack's functions (their stack's own service and metrics namespace): the
# handlers run in this process, and ipaas_sync.core.observability reads both when first imported
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", LOCAL_STACK_NAME)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", f"IpaasSync/{LOCAL_STACK_NAME}")


@pytest.fixture
def log_output():
    """Every formatted log line the code writes (the JSON lines CloudWatch would get)."""
    from ipaas_sync.core.observability import logger, metrics

    handler = logger.registered_handler
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)
    metrics.clear_metrics()  # metrics recorded without a Lambda invocation to flush them


def at_once(call, threads: int = 8) -> list:
    """What `call` returned in each of `threads` threads released together (a cold batch's record threads)."""
    results, start = [], threading.Barrier(threads)

    def run():
        start.wait()
        results.append(call())

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout=30)
    return results


def create_throttle_table(client, *items: dict) -> None:
    """The rate limiter's table as the template declares it (ThrottleTable: one item per destination key), on moto;
    `items` put in it."""
    client.create_table(
        TableName="throttle",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for item in items:
        client.put_item(TableName="throttle", Item=item)


def served_dynamodb(url: str):
    """A DynamoDB client of a moto server (sandbox.local_aws.MotoServer) at `url`, reset first: the same backends as
    the in-process mock."""
    import boto3
    import requests

    requests.post(f"{url}/moto-api/reset", timeout=10)
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
