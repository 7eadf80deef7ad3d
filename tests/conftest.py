import io
import os

import pytest

# Defaults for every test process; the local stack overrides the AWS endpoint with its moto server.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ipaas-sync")


@pytest.fixture
def log_output():
    """Every formatted log line the code writes (the JSON lines CloudWatch would get)."""
    from ipaas_sync.observability import logger, metrics

    handler = logger.registered_handler
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)
    metrics.clear_metrics()  # metrics recorded without a Lambda invocation to flush them
