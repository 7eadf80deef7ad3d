"""DlqReplayFunction: `ipaas-sync dlq list | show | replay` for operators without a shell (same code, verbs
and filters). Without "queue" it acts on every DLQ of the stack (DEAD_LETTER_QUEUES, set by the template).

    aws lambda invoke --function-name <DlqReplayFunction> --cli-binary-format raw-in-base64-out \\
        --payload '{"command": "list", "messages": true}' out.json
    {"command": "show", "id": "<DLQ message id, original message id, record id or tracking guid>"}
    {"command": "replay", "queue": "<dlq name>", "destination": "1001", "reason": "HTTP 503",
     "older_than": "10m", "dry_run": true}
"""

from botocore.exceptions import BotoCoreError, ClientError

from ipaas_sync.core.observability import logger
from ipaas_sync.tools.replay import Replayer
from ipaas_sync.tools.replay_cli import configured_dead_letter_queues, run_command


@logger.inject_lambda_context
def lambda_handler(event, context):
    try:
        result = run_command(Replayer(), dict(event or {}), configured_dead_letter_queues())
    except (ValueError, LookupError, BotoCoreError, ClientError) as exc:
        return {"error": str(exc)}
    if event.get("command") == "replay":
        logger.info("dlq replay", extra={"reports": result["reports"]})
    return result
