"""DlqReplayFunction: the `ipaas-sync dlq` command for operators without a shell.

    aws lambda invoke --function-name <DlqReplayFunction> --payload '{"action": "summary", "dlq": "<name>"}' out.json
    {"action": "replay", "dlq": "<name>", "filter": {"destination": "1001", "reason": "HTTP 503",
     "older_than": "10m"}, "dry_run": true}
"""
from ipaas_sync.observability import logger
from ipaas_sync.replay import Replayer, filter_from


@logger.inject_lambda_context
def lambda_handler(event, context):
    action, dlq = event.get("action", "summary"), event.get("dlq")
    if not dlq:
        return {"error": "name the dead-letter queue in 'dlq'"}
    replayer = Replayer()
    if action == "summary":
        return replayer.summary(dlq)
    if action == "show":
        return replayer.show(dlq, event.get("message_id", "")) or {"error": "no such message"}
    if action == "replay":
        try:
            flt = filter_from(event.get("filter") or {})
        except ValueError as exc:
            return {"error": str(exc)}
        report = replayer.replay(dlq, flt, dry_run=bool(event.get("dry_run")))
        logger.info("dlq replay", extra={"report": report.as_dict()})
        return report.as_dict()
    return {"error": f"unknown action '{action}' (summary, show, replay)"}
