"""HookIngressFunction: an iPaaS.com hook request (HttpApi, payload format 2.0) -> each notification on its queue.

A plain handler rather than Powertools' APIGatewayHttpResolver: API Gateway routes two routes here (POST /hooks
for iPaaS.com, POST /hooks/99minds/{segments+} for 99minds webhooks), told apart by one path prefix; the
handler only turns the event into headers + body bytes, lets ipaas_sync.ingress.hooks decide, and turns the decision
into the HTTP answer.
"""

from aws_lambda_powertools.logging import correlation_paths

from ipaas_sync.core.observability import logger, metrics, traced
from ipaas_sync.ingress.hooks import default_ingress, http_api_request, record
from ipaas_sync.ingress.webhooks import NINETYNINE_HOOK_PREFIX, default_99minds_ingress


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    headers, body = http_api_request(event)
    path = event.get("rawPath") or ""
    if path.startswith(NINETYNINE_HOOK_PREFIX):  # POST /hooks/99minds/{systemId}/...: a 99minds webhook
        reply = default_99minds_ingress().handle(path, headers, body)
    else:
        reply = default_ingress().handle(headers, body)
    record(reply)
    return reply.http_api_response()
