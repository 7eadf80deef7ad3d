"""The one command line of the scripts that write generated parts of the repository (observability.py,
stack_parameters.py, destinations.py): rewrite the file, or with --check say whether it is stale (exit 1)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


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
