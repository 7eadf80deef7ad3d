"""InvoiceTransferFunction: SQS batch of iPaaS.com transaction notifications (completed orders and validated
returns) -> the subscription's destination (99minds: the order workflow)."""

from ipaas_sync.core.observability import logger, metrics, traced
from ipaas_sync.runtime.processing import process_batch
from ipaas_sync.runtime.transfers import transfer_transaction


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return process_batch(event, context, entity="transaction", transfer=transfer_transaction)
