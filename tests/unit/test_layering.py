"""The layer rule: the layer's folders are layers, and a module imports only from its own layer or the ones below.

    core < platform < ipaas < mapping < runtime < destinations/<package> < ingress < tools

The registry (destinations/__init__.py, destinations/spec.py) is data that every layer reads: it imports nothing of
the layer, and names each destination's code by "module:attribute" strings, loaded on use. A destination's folder
never imports another destination's. Command-line code (argparse) lives in tools/ only.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "shared" / "ipaas_sync"
LAYERS = ["core", "platform", "ipaas", "mapping", "runtime", "destinations", "ingress", "tools"]
REGISTRY = {"destinations", "destinations.spec"}
MODULES = sorted(p for p in PKG.rglob("*.py") if p.parent != PKG)
LIMIT = 560  # lines: "about 500" (throttle.py's limiter is the longest)


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The layer's modules a file imports (absolute, without the ipaas_sync prefix)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                mod = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("ipaas_sync"):
                mod = (node.module or "").removeprefix("ipaas_sync").lstrip(".")
            else:
                continue
            out.add(mod)
            out.update(f"{mod}.{a.name}" if mod else a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("ipaas_sync.") for a in node.names if a.name.startswith("ipaas_sync."))
    return out


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _known(module: str) -> bool:
    base = PKG / Path(*module.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_a_module_imports_only_its_layer_and_the_ones_below(path):
    here = _module(path)
    if here in REGISTRY:
        assert not {m for m in _imports(path) if _known(m)} - REGISTRY, f"{here}: the registry imports nothing of the layer"
        return
    for imported in sorted(m for m in _imports(path) if _known(m) and m not in REGISTRY):
        assert _layer(imported) <= _layer(here), f"{here} imports {imported}, a layer above it"
        if here.startswith("destinations.") and imported.startswith("destinations."):
            assert imported.split(".")[1] == here.split(".")[1], f"{here} imports another destination: {imported}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_command_line_code_only_in_the_tools_and_modules_about_500_lines(path):
    here = _module(path)
    text = path.read_text()
    if not here.startswith("tools"):
        assert "import argparse" not in text, f"{here}: command-line code belongs in tools/"
    assert len(text.splitlines()) <= LIMIT, f"{here}: {len(text.splitlines())} lines (split it)"


def test_every_module_is_in_a_layer():
    assert not [p.name for p in PKG.glob("*.py") if p.name != "__init__.py"], "a module outside the layers' folders"
    for path in MODULES:
        assert _module(path).split(".")[0] in LAYERS, path
