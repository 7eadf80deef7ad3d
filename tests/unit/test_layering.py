"""The layer's lower modules never import its upper ones (settings and models know nothing of mapping,
transfer or the partner clients)."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "shared" / "ipaas_sync"
UPPER = ("mapping", "transfer", "clients", "processing", "ingress", "replay", "cli")
LOWER = ["settings.py", "errors.py", "observability.py", *sorted(p.name for p in (PKG / "models").glob("*.py"))]


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.add((node.module or "").split(".")[0])
            out.update(alias.name for alias in node.names if not node.module)
    return out


@pytest.mark.parametrize("name", LOWER)
def test_no_upward_import(name):
    path = PKG / name if (PKG / name).exists() else PKG / "models" / name
    assert not _imports(path) & set(UPPER), f"{path.relative_to(PKG)} imports {_imports(path) & set(UPPER)}"
