"""Every module path and name the docs give exists: `shared/ipaas_sync/...` paths, `ipaas_sync.<module>[.<name>]`,
and paths inside the layer (`runtime/pending.py`, `ipaas/custom_fields.custom_field_values`). The layer moved once
(issue 24) and the docs kept naming modules that were gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "shared" / "ipaas_sync"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LAYERS = "core|platform|ipaas|mapping|runtime|destinations|ingress|tools"
EXAMPLE = "klaviyo"  # docs/architecture.md's checklist adds this destination: its paths are meant not to exist yet


def _module(parts: list[str]) -> Path | None:
    base = PKG.joinpath(*parts)
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)


def _defines(module: Path, name: str) -> bool:
    text = module.read_text()
    pattern = rf"^\s*(async def|def|class) {name}\b|^\s*{name}\b\s*[:=]|^from \S+ import .*\b{name}\b"
    return bool(re.search(pattern, text, re.M)) or (module.parent / f"{name}.py").exists()


def _in_layer(path: str) -> bool:
    """A path relative to the layer, or to a destination's folder (mapping/customer.py in the checklist)."""
    return (PKG / path).exists() or any((d / path).exists() for d in (PKG / "destinations").iterdir() if d.is_dir())


def stale(text: str) -> list[str]:
    found = []
    for match in re.finditer(r"shared/ipaas_sync/[\w/.-]*\w", text):
        if EXAMPLE not in match.group(0) and not (ROOT / match.group(0)).exists():
            found.append(match.group(0))
    for code in re.findall(r"`([^`\n]+)`", text):
        for dotted in re.finditer(r"\bipaas_sync((?:\.\w+)+)", code):
            parts = dotted.group(1)[1:].split(".")
            n = next((n for n in range(len(parts), 0, -1) if _module(parts[:n])), 0)
            module = _module(parts[:n]) if n else None
            if module is None or (parts[n:] and not _defines(module, parts[n])):
                found.append(dotted.group(0))
        for path in re.finditer(rf"(?<![\w/.])((?:{LAYERS})/[\w/]+)(\.py\b|\.(\w+))", code):
            name, attribute = path.group(1), path.group(3)
            if EXAMPLE in name:
                continue
            if attribute is None:
                if not _in_layer(f"{name}.py"):
                    found.append(path.group(0))
            elif attribute not in ("md", "json", "yaml", "toml"):
                module = _module(name.split("/"))
                if module is None or not _defines(module, attribute):
                    found.append(path.group(0))
        found += [name for name in ("SETTINGS_BY_PLATFORM", "PARTNER_CLIENTS") if name in code]  # registries now gone
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_the_docs_name_exists(doc):
    assert stale(doc.read_text()) == []


def test_the_check_sees_a_stale_name():
    text = "`mapping/common.custom_field_values`, `ipaas_sync.replay`, shared/ipaas_sync/transfer/customer.py, `runtime/x.py`"
    assert sorted(stale(text)) == sorted(
        ["shared/ipaas_sync/transfer/customer.py", "mapping/common.custom_field_values", "ipaas_sync.replay", "runtime/x.py"]
    )
