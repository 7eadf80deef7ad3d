"""LoyaltyTransferFunction: SQS batch of 99minds changes (loyalty card transactions, customers) -> iPaaS.com."""

from ipaas_sync.models.inbound import ENTITY, InboundMessage
from ipaas_sync.observability import logger, metrics, traced
from ipaas_sync.processing import process_batch
from ipaas_sync.transfer.from_99minds import transfer_from_99minds


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return process_batch(event, context, entity=ENTITY, transfer=transfer_from_99minds, message_model=InboundMessage)
