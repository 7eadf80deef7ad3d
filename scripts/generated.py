"""The one command line of the scripts that write generated parts of the repository (observability.py,
stack_parameters.py, destinations.py): rewrite the file, or with --check say whether it is stale (exit 1)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

# where every generated alarm sends its state changes: the AlarmTopicArn parameter's topic, if one is given
ALARM_ACTIONS = "!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"


def alarm_tail(threshold: str, indent: str) -> list[str]:
    """The end of every generated alarm: one period over `threshold` alarms, no data is no alarm, on the topic."""
    return [
        f"{indent}EvaluationPeriods: 1",
        f"{indent}Threshold: {threshold}",
        f"{indent}ComparisonOperator: GreaterThanThreshold",
        f"{indent}TreatMissingData: notBreaching",
        f"{indent}AlarmActions: {ALARM_ACTIONS}",
    ]


def rewrite(argv: list[str] | None, *, doc: str | None, path: Path, what: str, target: str, apply: Callable[[str], str]) -> int:
    """`what`: the generated part ("the observability block"); `target`: the make target that rewrites it."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {path.name}'s {what} is stale")
    args = parser.parse_args(argv)
    text = path.read_text()
    new = apply(text)
    if args.check:
        if new != text:
            print(f"{path.name}: {what} is out of date; run `make {target}`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        path.write_text(new)
        print(f"{path.name}: {what} rewritten")
    return 0
