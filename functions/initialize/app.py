"""InitializeFunction: `ipaas-sync initialize` for operators without a shell (same Initializer).

    aws lambda invoke --function-name <stack>-initialize --invocation-type Event \
        --cli-binary-format raw-in-base64-out \
        --payload '{"entity": "customer", "destination": "1001", "since": "2025-01-01"}' out.json
    {"entity": ..., "destination": ..., "resume": true}        continue a stopped run
    {"entity": ..., "destination": ..., "dry_run": true}       count only (invoke synchronously)
    {"source": "99minds", "entity": "customer", "destination": "1001"}   99minds customers into iPaaS.com
It enumerates until shortly before its timeout, checkpoints, and invokes itself asynchronously with the run
id: a million records need no human. Progress: `ipaas-sync report`/the log line of each invocation.
"""

import warnings

from ipaas_sync.core.observability import logger, metrics
from ipaas_sync.tools.initialize.function import run_function

# most invocations add no metric (only a partner's 429 does): nothing to publish is expected, not worth a warning line
warnings.filterwarnings("ignore", message="No application metrics to publish")


@logger.inject_lambda_context
@metrics.log_metrics  # its iPaaS.com and partner requests count (PartnerThrottled): one EMF line per invocation
def lambda_handler(event, context):
    return run_function(event, context)
