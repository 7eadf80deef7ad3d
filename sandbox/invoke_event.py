"""The event scripts/invoke-local sends: a sample event, with the local stack's webhook key in place of the
placeholder of events/hook_request.json (Bearer replace-with-the-subscription-webhook-api-key).

    python -m sandbox.invoke_event events/hook_request.json [.local/stack.json] > payload.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PLACEHOLDER = "Bearer replace-with-the-subscription-webhook-api-key"


def with_local_key(event: dict, described: dict) -> tuple[dict, str | None]:
    """(event, the subscription whose key was put in, or None when nothing was replaced)."""
    headers = event.get("headers") or {}
    keys = described.get("webhook_keys", {})
    if headers.get("authorization") != PLACEHOLDER or not keys:
        return event, None
    try:
        destination = str(json.loads(event.get("body") or "{}")["notifications"][0]["destination"])
    except (ValueError, KeyError, IndexError, TypeError):
        destination = next(iter(keys))
    if destination not in keys:
        return event, None
    return {**event, "headers": {**headers, "authorization": f"Bearer {keys[destination]}"}}, destination


def main(argv: list[str]) -> int:
    event = json.loads(Path(argv[0]).read_text())
    stack_file = Path(argv[1] if len(argv) > 1 else ".local/stack.json")
    described = json.loads(stack_file.read_text()) if stack_file.exists() else {}
    event, destination = with_local_key(event, described)
    if destination:
        print(f"(Authorization: the local webhook key of subscription {destination})", file=sys.stderr)
    print(json.dumps(event))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
