"""Rewrite the SecretString of every secret in template.yaml from the settings models (`make secrets`).

The settings models (shared/ipaas_sync/settings.py) are the one definition of each secret's JSON shape:
subscription secrets (`<stack>/subscriptions/<platform>`: SETTINGS_BY_PLATFORM) and webhook key secrets
(`<stack>/webhook-keys/<platform>`: WEBHOOK_SETTINGS_BY_PLATFORM, else WebhookKeySettings). A template test
fails when the template and the models differ; this script makes them equal again. Only the SecretString
lines change; the rest of the template is left as written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generated import rewrite  # noqa: E402 - beside this script

from ipaas_sync.settings import (  # noqa: E402 - after the path is set
    SETTINGS_BY_PLATFORM,
    WEBHOOK_SETTINGS_BY_PLATFORM,
    WebhookKeySettings,
    secret_shape,
)

TEMPLATE = ROOT / "template.yaml"
WIDTH = 110
_SECRET = re.compile(
    r"^  (?P<name>\w+):\n    Type: AWS::SecretsManager::Secret\n(?P<body>(?:    .*\n|\n)*?)"
    r"(?=^  \w+:\n|^\S)",
    re.M,
)
_STRING = re.compile(r"^      SecretString: >-\n(?:        .*\n)+", re.M)


def model_for(logical: str, platform: str):
    if "WebhookKey" in logical:
        return WEBHOOK_SETTINGS_BY_PLATFORM.get(platform, WebhookKeySettings)
    return SETTINGS_BY_PLATFORM[platform]


def folded(value: dict) -> str:
    """A YAML folded scalar (lines joined by one space) of the JSON, broken only between JSON items."""
    items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
    lines, line = [], "{"
    for n, item in enumerate(items):
        piece = item + ("," if n < len(items) - 1 else "}")
        if line == "{":
            line += piece
        elif len(line) + 1 + len(piece) > WIDTH:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}"
    lines.append(line)
    return "      SecretString: >-\n" + "".join(f"        {text}\n" for text in lines)


def apply(text: str) -> str:
    def one(match: re.Match) -> str:
        body = match.group("body")
        found = _STRING.search(body)
        if not found:
            return match.group(0)
        current = json.loads(" ".join(line.strip() for line in found.group(0).splitlines()[1:]))
        shape = secret_shape(
            model_for(match.group("name"), current["Platform"]), Platform=current["Platform"], Name=current["Name"]
        )
        return match.group(0).replace(found.group(0), folded(shape))

    return _SECRET.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    return rewrite(argv, doc=__doc__, path=TEMPLATE, what="the secret shapes", target="secrets", apply=apply)


if __name__ == "__main__":
    sys.exit(main())
