"""LoyaltyTransferFunction: SQS batch of 99minds changes (loyalty card transactions, customers) -> iPaaS.com."""

from ipaas_sync.core.models.inbound import ENTITY, InboundMessage
from ipaas_sync.core.observability import logger, metrics, traced
from ipaas_sync.destinations.ninetynine_minds.to_ipaas.transfer import transfer_from_99minds
from ipaas_sync.runtime.processing import process_batch


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    return process_batch(event, context, entity=ENTITY, transfer=transfer_from_99minds, message_model=InboundMessage)
