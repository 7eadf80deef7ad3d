"""HookIngressFunction: an iPaaS.com hook request (HttpApi, payload format 2.0) -> each notification on its queue.

A plain handler rather than Powertools' APIGatewayHttpResolver: API Gateway already routes exactly one
route (POST /hooks) here, so a second router would have nothing to route; the handler only turns the event
into headers + body bytes, lets ipaas_sync.ingress decide, and turns the decision into the HTTP answer.
"""
from aws_lambda_powertools.logging import correlation_paths

from ipaas_sync.ingress import default_ingress, http_api_request, record
from ipaas_sync.observability import logger, metrics, traced


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    headers, body = http_api_request(event)
    reply = default_ingress().handle(headers, body)
    record(reply)
    return reply.http_api_response()
