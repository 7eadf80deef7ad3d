"""Every command the README and docs/*.md show exists: `make` targets, `ipaas-sync` subcommands and their
flags, `scripts/...` files, `events/...` files and `python -m` modules."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from ipaas_sync.tools import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CLI_NAMES = ("ipaas-sync", ".venv/bin/ipaas-sync")


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def snippets(text: str) -> list[str]:
    """Lines of fenced code blocks and inline code spans."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append(line)
        else:
            out.extend(re.findall(r"`([^`]+)`", line))
    return out


def commands(snippet: str) -> list[list[str]]:
    snippet = re.sub(r"(^|\s)#.*$", "", snippet).replace("\\", " ")
    out = []
    for part in re.split(r"&&|;|\||\$\(|\)|&(?=\s|$)", snippet):
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        if tokens:
            out.append(tokens)
    return out


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


def problems_in(tokens: list[str], targets: set[str]) -> list[str]:
    found = []
    for i, tok in enumerate(tokens):
        rest = tokens[i + 1 :]
        if tok == "make" and (i == 0 or tokens[i - 1] in ("sudo",)):
            for t in rest:
                if "=" in t or t.startswith("-"):
                    continue
                if t not in targets:
                    found.append(f"make target '{t}'")
        if tok in CLI_NAMES or (tok == "-m" and rest[:1] == ["ipaas_sync.tools.cli"]):
            args = rest[1:] if tok == "-m" else rest
            parser = cli.parser()
            path = ["ipaas-sync"]
            for a in args:
                if a.startswith("--"):
                    if a.split("=")[0] not in _flags(parser):
                        found.append(f"flag {a} of `{' '.join(path)}`")
                    continue
                subs = _subparsers(parser)
                if a in subs:
                    parser, path = subs[a], [*path, a]
                elif subs and not a.startswith("<"):
                    found.append(f"subcommand '{a}' of `{' '.join(path)}`")
                    break
        if tok == "-m" and rest and not rest[0].startswith("ipaas_sync.tools.cli"):
            module = rest[0].replace(".", "/")
            if not any(
                (ROOT / base / f"{module}{ext}").exists()
                for base in ("", "shared")
                for ext in (".py", "/__init__.py", "/__main__.py")
            ):
                found.append(f"module {rest[0]}")
        for prefix in ("scripts/", "events/"):
            name = tok.split(":")[0].rstrip(",.;)")
            if name.startswith(prefix) and not name.endswith("/") and "<" not in name:
                if not (list(ROOT.glob(name)) if "*" in name else (ROOT / name).exists()):
                    found.append(f"file {name}")
    return found


def doc_problems(text: str) -> list[str]:
    targets = make_targets()
    return [f"{p} (in: {s.strip()})" for s in snippets(text) for tokens in commands(s) for p in problems_in(tokens, targets)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_exists(doc):
    assert doc_problems(doc.read_text()) == []


def test_the_docs_show_commands_at_all():
    text = "\n".join(d.read_text() for d in DOCS)
    shown = [t for s in snippets(text) for t in commands(s)]
    assert sum(1 for t in shown if t[0] == "make") >= 5
    assert sum(1 for t in shown if t[0] in CLI_NAMES) >= 5


def test_the_checker_finds_what_does_not_exist():
    text = """
```sh
make nope
ipaas-sync dlq list --nope
ipaas-sync dlq frobnicate
scripts/not-a-script x
python -m sandbox.not_a_module
```
and `make demo PYTHON=python3.12`, `ipaas-sync dlq replay <dlq> --dry-run` exist.
"""
    assert [p.split(" (in:")[0] for p in doc_problems(text)] == [
        "make target 'nope'",
        "flag --nope of `ipaas-sync dlq list`",
        "subcommand 'frobnicate' of `ipaas-sync dlq`",
        "file scripts/not-a-script",
        "module sandbox.not_a_module",
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_name_public_sources_and_nothing_outside_the_repository(doc):
    text = doc.read_text()
    for private in ("../shared", "the seed", "the reference"):
        assert private not in text.lower(), f"{doc.name}: '{private}' is not in the repository; name the public source"


def test_links_between_docs_resolve_to_a_heading():
    """A link to a page that exists, with an #anchor, names one of that page's headings (GitHub's anchors)."""

    def anchors(path: Path) -> set[str]:
        heads = re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)
        return {re.sub(r"[^\\w\\- ]", "", h.lower().replace("`", "")).replace(" ", "-") for h in heads}

    bad = []
    for doc in DOCS:
        for target, anchor in re.findall(r"\\]\\(([\\w./-]*\\.md)?#([\\w-]+)\\)", doc.read_text()):
            page = (doc.parent / target).resolve() if target else doc
            if page.exists() and anchor not in anchors(page):
                bad.append(f"{doc.name}: {target}#{anchor}")
    assert bad == []
