"""What ships and how it is pinned: the layer's lock against pyproject, samconfig.toml against the template."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a pip requirements file (names normalised)."""
    out = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> dict[str, str]:
    out = {}
    for req in requirements:
        m = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)$", req)
        assert m, f"pyproject.toml: '{req}' is not pinned with == (the locks are resolved from these pins)"
        out[_norm(m.group(1))] = m.group(2)
    return out


def test_the_layer_lock_pins_exactly_the_runtime_dependencies_of_pyproject():
    declared = _declared(PYPROJECT["project"]["dependencies"])
    locked = _pins(ROOT / "shared" / "requirements.txt")
    assert {name: locked.get(name) for name in declared} == declared, "run `make lock`"
    text = (ROOT / "shared" / "requirements.txt").read_text()
    assert "--hash=sha256:" in text
    # boto3 and botocore ship as one pinned pair (aws-xray-sdk brings botocore into the layer either way)
    assert locked["boto3"] == locked["botocore"]
    dev = set(_declared(PYPROJECT["project"]["optional-dependencies"]["dev"]))
    assert not dev & set(locked), "a development package in the layer"


def test_the_dev_lock_pins_every_declared_package_at_its_declared_version():
    declared = _declared(PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"])
    locked = _pins(ROOT / "requirements-dev.lock")
    assert {name: locked.get(name) for name in declared} == declared, "run `make lock`"


def test_sandbox_is_not_packaged():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find["where"] == ["shared"] and all(p.startswith("ipaas_sync") for p in find["include"])
    assert not (ROOT / "shared" / "sandbox").exists()


def test_every_function_has_a_requirements_file():
    for fn in (ROOT / "functions").iterdir():
        if (fn / "app.py").exists():
            assert (fn / "requirements.txt").exists(), fn.name


def test_samconfig_deploys_with_every_template_parameter_at_its_default():
    from samcli.cli.types import CfnParameterOverridesType

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    overrides = CfnParameterOverridesType().convert(config["deploy"]["parameters"]["parameter_overrides"], None, None)
    params = cfn_yaml.loads((ROOT / "template.yaml").read_text())["Parameters"]
    assert overrides == {name: str(p.get("Default", "")) for name, p in params.items()}
    assert config["global"]["parameters"]["stack_name"]
    assert "CAPABILITY_IAM" in config["deploy"]["parameters"]["capabilities"]


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_each_samconfig_environment_is_a_stack_of_its_own_with_valid_parameters(env):
    """`sam deploy --config-env <env>`: its own stack name, a region, and overrides the template accepts."""
    from samcli.cli.types import CfnParameterOverridesType

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    names = {c["global"]["parameters"]["stack_name"] for e, c in config.items() if e != "version"}
    assert len(names) == len(config) - 1  # one stack per environment
    section = config[env]
    assert section["global"]["parameters"]["region"]
    deploy = section["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"] and deploy["s3_prefix"] == section["global"]["parameters"]["stack_name"]
    assert section["build"]["parameters"]
    params = cfn_yaml.loads((ROOT / "template.yaml").read_text())["Parameters"]
    for name, value in CfnParameterOverridesType().convert(deploy["parameter_overrides"], None, None).items():
        assert name in params, name
        allowed = params[name].get("AllowedValues")
        assert allowed is None or value in [str(a) for a in allowed], (name, value)


def _hook_routes_without_authorizer() -> int:
    events = cfn_yaml.loads((ROOT / "template.yaml").read_text())["Resources"]["HookIngressFunction"]["Properties"]["Events"]
    return sum(1 for e in events.values() if e["Type"] == "HttpApi" and "Auth" not in e["Properties"])


@pytest.mark.parametrize("path", ["samconfig.toml", "docs/deploy.md", "README.md"])
def test_the_no_authentication_question_is_answered(path):
    """`sam deploy --guided` asks it once per route without an authorizer: the docs say how many times."""
    text = (ROOT / path).read_text()
    assert "no authentication" in text and "webhook" in text.lower()
    assert _hook_routes_without_authorizer() == 2 and "twice" in text


def test_the_stack_parameter_table_in_docs_is_generated_from_the_template():
    import importlib.util

    spec = importlib.util.spec_from_file_location("stack_parameters", ROOT / "scripts" / "stack_parameters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (ROOT / "docs" / "deploy.md").read_text()
    assert module.apply(doc, (ROOT / "template.yaml").read_text()) == doc, "run `make docs`"
    for name in cfn_yaml.loads((ROOT / "template.yaml").read_text())["Parameters"]:
        assert f"| `{name}` |" in doc


def test_the_tests_run_exactly_the_layer_s_packages():
    layer = _pins(ROOT / "shared" / "requirements.txt")
    dev = _pins(ROOT / "requirements-dev.lock")
    assert {name: dev.get(name) for name in layer} == layer, "run `make lock`"


def test_every_phony_make_target_has_a_recipe_and_a_help_line():
    text = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE).group(1).split()
    for target in phony:
        rule = re.search(rf"^{re.escape(target)}:[^\n]*##[^\n]+\n((?:\t[^\n]*\n)*)", text, re.MULTILINE)
        assert rule and rule.group(1).strip(), f"make {target}: no recipe or no `## help` comment"


def test_the_benchmarks_start_the_way_make_bench_runs_them():
    """`make bench` runs them as modules from the repository root (sandbox is not an installed package): a
    benchmark that cannot import its sandbox would only fail when someone measures."""
    import subprocess
    import sys

    for module in ("bench.throttle_benchmark", "bench.cold_start"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{module}: {done.stderr[-500:]}"
