"""CustomerTransferFunction: SQS batch of iPaaS.com customer notifications -> the subscription's destination."""

from ipaas_sync.core.observability import logger, metrics, traced
from ipaas_sync.runtime.processing import process_batch
from ipaas_sync.runtime.transfers import transfer_customer


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return process_batch(event, context, entity="customer", transfer=transfer_customer)
