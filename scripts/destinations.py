#!/usr/bin/env python3
"""Write template.yaml's per-destination parts from the destination registry (shared/ipaas_sync/destinations).

    python scripts/destinations.py            # rewrite every generated part (make destinations)
    python scripts/destinations.py --check    # exit 1 if one is out of date (the template tests do this)

CloudFormation has no loop over a list of destinations, so every part of the stack that exists once per
destination, or once per (entity, destination), is written here from REGISTRY: the concurrency parameters, the
reserved-concurrency defaults, the subscription and webhook-key secrets (their SecretString from the settings
models, the one definition of each secret's JSON shape), a queue, a DLQ and a DLQ depth alarm per flow, each
entity function's SQS events and its role's resource lists, the hook ingress's routes, the replay and
initialize functions' lists, and the outputs. Each part sits between two marker lines in template.yaml:

    <indent># >>> destinations: KIND [SELECTOR]
    <indent># <<< destinations

and is written at the marker's indentation; the rest of the template is hand-written and left as it is. KIND is
one of the functions in PARTS below; SELECTOR chooses the flows: an entity (customer, transaction, giftcard),
`to-ipaas` (the direction back into iPaaS.com), `entities` (every iPaaS.com entity) or `all` (both).
A new destination in the registry: run `make destinations` (then `make observability`) and commit the result.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generated import alarm_tail, rewrite  # noqa: E402 - beside this script

from ipaas_sync.core.settings import WebhookKeySettings, secret_shape  # noqa: E402
from ipaas_sync.destinations import ENTITIES, ENTITY_BY_NAME, REGISTRY, TO_IPAAS, Destination, Entity, load  # noqa: E402
from ipaas_sync.platform.queues import SQS_MAX_MESSAGE_BYTES  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
MARKER = re.compile(r"^(?P<indent> *)# >>> destinations: (?P<kind>[a-z-]+)(?: (?P<selector>[a-z-]+))?\n", re.M)
END = "# <<< destinations"
WIDTH = 110  # of a secret's folded JSON lines
Flow = tuple[Entity, Destination]


def flows(selector: str | None) -> list[Flow]:
    """The (entity, destination) pairs a selector names, entity by entity in the template's order."""
    if selector in (None, "all"):
        entities = [*ENTITIES, TO_IPAAS]
    elif selector == "entities":
        entities = list(ENTITIES)
    elif selector == TO_IPAAS.name:
        entities = [TO_IPAAS]
    else:
        entities = [ENTITY_BY_NAME[selector]]
    return [(e, d) for e in entities for d in REGISTRY if d.takes(e)]


def destinations(selector: str | None) -> list[Destination]:
    """The destinations of the selector's flows, each once, in registry order."""
    chosen = {d.platform for _, d in flows(selector)}
    return [d for d in REGISTRY if d.platform in chosen]


def _function_entity(selector: str | None) -> Entity:
    return TO_IPAAS if selector == TO_IPAAS.name else ENTITY_BY_NAME[str(selector)]


# --- the parts (each returns its lines, unindented) ---------------------------------------------------------------


def concurrency_parameters(_: str | None) -> list[str]:
    out = []
    for d in REGISTRY:
        out += [
            f"{d.concurrency_parameter}:",
            "  Type: Number",
            "  Default: 2",
            "  MinValue: 2",
            "  MaxValue: 1000",
            "  Description: >",
            f"    MaximumConcurrency of every {d.display} queue's event source mapping ({d.concurrency_note}).",
        ]
    return out


def reserved_parameters(_: str | None) -> list[str]:
    out = []
    for entity in (*ENTITIES, TO_IPAAS):
        serving = [d for d in REGISTRY if d.takes(entity)]
        maxima = " + ".join(d.concurrency_parameter for d in serving)
        out += [
            f"{entity.reserved_parameter}:",
            "  Type: Number",
            f"  Default: {2 * len(serving)}",
            "  MinValue: 0",
            "  Description: >",
            f"    Reserved concurrency of {entity.function}; keep it at least the sum of its queues' maxima",
            f"    ({maxima}). 0 = unreserved.",
        ]
    return out


def secrets(_: str | None) -> list[str]:
    out = []
    for d in REGISTRY:
        shape = secret_shape(load(d.settings), Platform=d.platform, Name=d.name)
        out += _secret(
            d.subscription_secret, f"${{AWS::StackName}}/subscriptions/{d.platform}", d.subscription_description, shape
        )
    for d in REGISTRY:
        model = load(d.webhook_settings) if d.webhook_settings else WebhookKeySettings
        description = (
            f"Webhook API keys of the {d.name} subscription (JSON): the only secret the internet-facing hook ingress "
            'reads. "iPaaS System Id" as in the subscription\'s settings secret; "Webhook API Key (Previous)" stays '
            "accepted while a key is rotated. Until filled in, its hook requests are answered 401."
        )
        out += _secret(
            d.webhook_key_secret,
            f"${{AWS::StackName}}/webhook-keys/{d.platform}",
            description,
            secret_shape(model, Platform=d.platform, Name=d.name),
        )
    return out[:-1]


def _secret(logical: str, name: str, description: str, shape: dict) -> list[str]:
    return [
        f"{logical}:",
        "  Type: AWS::SecretsManager::Secret",
        "  DeletionPolicy: Delete",
        "  UpdateReplacePolicy: Delete",
        "  Properties:",
        f"    Name: !Sub {name}",
        "    Description: >",
        *(f"      {line}" for line in textwrap.wrap(description, 104, break_long_words=False, break_on_hyphens=False)),
        *(line[2:] for line in folded(shape).splitlines()),
        "",
    ]


def queues(selector: str | None) -> list[str]:
    out = []
    for entity, d in flows(selector):
        what = "99minds -> iPaaS.com" if entity is TO_IPAAS else f"{entity.name} x {d.display}"
        if entity is TO_IPAAS:
            what = f"{d.display} -> iPaaS.com"
        out += [
            f"# --- {what} " + "-" * max(3, 100 - len(what)),
            f"{d.dlq(entity)}:",
            "  Type: AWS::SQS::Queue",
            "  DeletionPolicy: Retain # failed transfers outlive the stack: nothing is lost",
            "  UpdateReplacePolicy: Retain",
            "  Properties:",
            f"    QueueName: !Sub ${{AWS::StackName}}-{d.queue_name(entity)}-dlq",
            f"    MaximumMessageSize: {SQS_MAX_MESSAGE_BYTES} # SQS_MAX_MESSAGE_BYTES: body + attributes",
            "    MessageRetentionPeriod: 1209600",
            "    SqsManagedSseEnabled: true",
            "",
            f"{d.queue(entity)}:",
            "  Type: AWS::SQS::Queue",
            "  DeletionPolicy: Delete",
            "  UpdateReplacePolicy: Delete",
            "  Properties:",
            f"    QueueName: !Sub ${{AWS::StackName}}-{d.queue_name(entity)}",
            f"    MaximumMessageSize: {SQS_MAX_MESSAGE_BYTES} # SQS_MAX_MESSAGE_BYTES: body + attributes",
            "    VisibilityTimeout: 180 # 6 x the function timeout",
            "    MessageRetentionPeriod: 345600",
            "    SqsManagedSseEnabled: true",
            "    RedrivePolicy:",
            f"      deadLetterTargetArn: !GetAtt {d.dlq(entity)}.Arn",
            "      maxReceiveCount: !Ref MaxReceiveCount",
            "",
            f"{d.dlq(entity)}DepthAlarm:",
            "  Type: AWS::CloudWatch::Alarm",
            "  Properties:",
            "    AlarmDescription: >",
            *(
                f"      {line}"
                for line in textwrap.wrap(
                    f"{d.dlq_note(entity)}; inspect the reasons and replay them.",
                    104,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            ),
            "    Namespace: AWS/SQS",
            "    MetricName: ApproximateNumberOfMessagesVisible",
            "    Dimensions:",
            "      - Name: QueueName",
            f"        Value: !GetAtt {d.dlq(entity)}.QueueName",
            "    Statistic: Maximum",
            "    Period: 300",
            *alarm_tail("0", "    "),
            "",
        ]
    return out[:-1]


def events(selector: str | None) -> list[str]:
    """The SQS event source mappings of the function serving the selector's entity: one per destination."""
    out = []
    for entity, d in flows(selector):
        out += [
            f"{d.logical}:",
            "  Type: SQS",
            "  Properties:",
            f"    Queue: !GetAtt {d.queue(entity)}.Arn",
            "    BatchSize: !Ref BatchSize",
            "    FunctionResponseTypes: [ReportBatchItemFailures]",
            "    ScalingConfig:",
            f"      MaximumConcurrency: !Ref {d.concurrency_parameter}",
        ]
    return out


def queue_arns(selector: str | None) -> list[str]:
    return [f"- !GetAtt {d.queue(e)}.Arn" for e, d in flows(selector)]


def dlq_arns(selector: str | None) -> list[str]:
    return [f"- !GetAtt {d.dlq(e)}.Arn" for e, d in flows(selector)]


def dlq_refs(selector: str | None) -> list[str]:
    return [f"- !Ref {d.dlq(e)}" for e, d in flows(selector)]


def subscription_secrets(selector: str | None) -> list[str]:
    return [f"- !Ref {d.subscription_secret}" for d in destinations(selector)]


def webhook_key_secrets(selector: str | None) -> list[str]:
    return [f"- !Ref {d.webhook_key_secret}" for d in destinations(selector)]


def queue_routes(_: str | None) -> list[str]:
    """QUEUE_ROUTES of the hook ingress: "<entity>:<platform>" -> the queue that serves it."""
    routes = [f'"{e.name}:{d.platform}": "${{{d.queue(e)}}}"' for e, d in flows("entities")]
    return ["QUEUE_ROUTES: !Sub >-", "  {", *(f"  {r}," for r in routes[:-1]), f"  {routes[-1]}", "  }"]


def outputs(_: str | None) -> list[str]:
    out = []
    for entity, d in flows("all"):
        queue = [f"{d.queue(entity)}Url:"]
        if entity is TO_IPAAS:
            queue.append(
                f"  Description: The {d.display} -> iPaaS.com queue (webhooks, `ipaas-sync sync --source {d.platform}` "
                f"and `initialize --source {d.platform}` put messages here)"
            )
        out += [*queue, f"  Value: !Ref {d.queue(entity)}", f"{d.dlq(entity)}Url:", f"  Value: !Ref {d.dlq(entity)}"]
    for key, description, refs in (
        ("SubscriptionSecrets", "The subscription settings secrets (SUBSCRIPTION_SECRET_ARNS for the CLI)", subscription_secrets),
        (
            "WebhookKeySecrets",
            "The webhook API key secrets (one per subscription), read by the hook ingress only",
            webhook_key_secrets,
        ),
    ):
        out += [f"{key}:", f"  Description: {description}", "  Value: !Join", '    - ","', "    -"]
        out += [f"      {line}" for line in refs("all")]
    return out


PARTS: dict[str, Callable[[str | None], list[str]]] = {
    "concurrency-parameters": concurrency_parameters,
    "reserved-parameters": reserved_parameters,
    "secrets": secrets,
    "queues": queues,
    "events": events,
    "queue-arns": queue_arns,
    "dlq-arns": dlq_arns,
    "dlq-refs": dlq_refs,
    "subscription-secrets": subscription_secrets,
    "webhook-key-secrets": webhook_key_secrets,
    "queue-routes": queue_routes,
    "outputs": outputs,
}


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
    """Every marker pair's lines replaced by its part."""
    out, pos = [], 0
    for match in MARKER.finditer(text):
        if match.start() < pos:
            continue
        indent, kind, selector = match.group("indent"), match.group("kind"), match.group("selector")
        end = text.find(f"{indent}{END}\n", match.end())
        if end < 0:
            raise SystemExit(f"template.yaml: '{match.group(0).strip()}' has no '{END}' line at its indentation")
        if kind not in PARTS:
            raise SystemExit(f"template.yaml: unknown generated part '{kind}' (known: {', '.join(PARTS)})")
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in PARTS[kind](selector))
        out += [text[pos : match.end()], body]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    return rewrite(argv, doc=__doc__, path=TEMPLATE, what="the per-destination parts", target="destinations", apply=apply)


if __name__ == "__main__":
    sys.exit(main())
