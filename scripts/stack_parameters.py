#!/usr/bin/env python3
"""Write the table of stack parameters in docs/deploy.md from template.yaml (name, default, what it controls), and
samconfig.toml's default environment's parameter_overrides (every parameter at its default, in the template's order).

    python scripts/stack_parameters.py            # rewrite both (make docs)
    python scripts/stack_parameters.py --check    # exit 1 if either is out of date (a template test runs this)

Each row comes from the parameter's Default and Description in template.yaml: a new parameter needs a
Description there, then `make docs`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated import rewrite  # noqa: E402 - beside this script

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deploy.md"
BEGIN = "<!-- stack parameters: generated from template.yaml by scripts/stack_parameters.py (make docs) -->"
END = "<!-- end of stack parameters -->"


def table(template_text: str) -> str:
    from cfnlint.decode import cfn_yaml

    params = cfn_yaml.loads(template_text)["Parameters"]
    rows = ["| parameter | default | what it controls |", "|---|---|---|"]
    for name, p in params.items():
        default = p.get("Default", "")
        shown = f"`{default}`" if str(default) != "" else "(empty)"
        description = " ".join(str(p.get("Description", "")).split()).replace("|", "\\|")
        if not description:
            raise SystemExit(f"template.yaml: parameter {name} has no Description (the docs table needs one)")
        rows.append(f"| `{name}` | {shown} | {description} |")
    return "\n".join(rows)


def apply(doc_text: str, template_text: str) -> str:
    head, rest = doc_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(template_text)}\n{END}{tail}"


# samconfig.toml: the default environment's list (a new destination's Concurrency parameter lands here too)
SAMCONFIG = ROOT / "samconfig.toml"
OVERRIDES = "[default.deploy.parameters]"


def overrides(config_text: str, template_text: str) -> str:
    from cfnlint.decode import cfn_yaml

    params = cfn_yaml.loads(template_text)["Parameters"]
    head, rest = config_text.split(OVERRIDES, 1)
    before, after = rest.split("parameter_overrides = [\n", 1)
    _, tail = after.split("]\n", 1)
    lines = []
    for name, p in params.items():
        value = str(p.get("Default", ""))
        lines.append(f'    "{name}={value}",' if value else f'    "{name}=\\"\\"",')
    return f"{head}{OVERRIDES}{before}parameter_overrides = [\n" + "\n".join(lines) + f"\n]\n{tail}"


def main(argv: list[str] | None = None) -> int:
    template = (ROOT / "template.yaml").read_text()
    table_stale = rewrite(
        argv, doc=__doc__, path=DOC, what="the stack parameter table", target="docs", apply=lambda text: apply(text, template)
    )
    config_stale = rewrite(
        argv,
        doc=__doc__,
        path=SAMCONFIG,
        what="the default parameter_overrides",
        target="docs",
        apply=lambda text: overrides(text, template),
    )
    return max(table_stale, config_stale)


if __name__ == "__main__":
    sys.exit(main())
