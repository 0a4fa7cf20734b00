"""The MLflow Project files agree with pyproject.toml and with the CLI (fast: nothing is run).

pyproject.toml's ``[project].dependencies`` is the source of truth; ``python_env.yaml`` (what
``mlflow run --env-manager uv|virtualenv`` installs) and ``conda.yaml`` must list the same
requirements, and the MLproject's entry points must parse with MLflow's own loader and render
commands whose options the ``mlt train`` command accepts.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

MAIN_PARAMETERS = {
    "alpha": ("float", 0.5),
    "l1_ratio": ("float", 0.5),
    "builtin_dataset": ("string", "diabetes"),
    "data_file": ("string", ""),
    "target_column": ("string", ""),
    "test_size": ("float", 0.25),
    "random_state": ("int", 42),
}
SWEEP_PARAMETERS = {
    "alphas": "string",
    "l1_ratios": "string",
    "builtin_dataset": "string",
    "data_file": "string",
    "target_column": "string",
    "test_size": "float",
    "random_state": "int",
}


def normalized(requirements: list[str], where: str) -> dict[str, tuple]:
    """{canonical name: (extras, specifier, marker)}, failing on duplicates."""
    out: dict[str, tuple] = {}
    for line in requirements:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{name} is listed twice in {where}"
        out[name] = (
            tuple(sorted(req.extras)),
            str(SpecifierSet(str(req.specifier))),  # SpecifierSet sorts its clauses
            str(req.marker) if req.marker else None,
        )
    return out


def pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the test extra brings tomli
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def python_env() -> dict:
    return yaml.safe_load((ROOT / "python_env.yaml").read_text())


def conda_env() -> dict:
    return yaml.safe_load((ROOT / "conda.yaml").read_text())


def conda_pip_requirements(env: dict) -> list[str]:
    lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(lists) == 1, "conda.yaml needs exactly one `pip:` list"
    return lists[0]


def test_normalization_sees_through_spelling() -> None:
    assert normalized(["Scikit_Learn >=1.4, <2"], "a") == normalized(["scikit-learn<2,>=1.4"], "b")
    assert normalized(["numpy>=1.24"], "a") != normalized(["numpy>=1.25"], "b")


def test_python_env_lists_the_pyproject_dependencies() -> None:
    expected = normalized(pyproject()["project"]["dependencies"], "pyproject.toml")
    assert normalized(python_env()["dependencies"], "python_env.yaml") == expected


def test_conda_yaml_lists_the_pyproject_dependencies() -> None:
    expected = normalized(pyproject()["project"]["dependencies"], "pyproject.toml")
    assert normalized(conda_pip_requirements(conda_env()), "conda.yaml") == expected


def test_python_env_matches_mlflows_format() -> None:
    from mlflow.utils.environment import _PythonEnv

    env = python_env()
    assert set(env) == {"python", "build_dependencies", "dependencies"}
    parsed = _PythonEnv.from_yaml(ROOT / "python_env.yaml")
    assert [canonicalize_name(Requirement(r).name) for r in parsed.build_dependencies] == [
        "pip",
        "setuptools",
        "wheel",
    ]
    # `uv venv --python` takes the value as it is, so it must be a string uv understands; it
    # must also agree with requires-python.
    assert isinstance(env["python"], str)
    assert SpecifierSet(env["python"]) == SpecifierSet(pyproject()["project"]["requires-python"])


def test_conda_yaml_shape() -> None:
    from mlflow.utils.environment import _PythonEnv

    env = conda_env()
    assert env["name"] == "mlflow-tutorial"
    assert env["channels"] == ["conda-forge"]
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "pip" in plain
    python = [d for d in plain if d.startswith("python")]
    assert python == [f"python{pyproject()['project']['requires-python']}"]
    # MLflow can also read it (it does so for conda projects run with uv or virtualenv).
    deps = _PythonEnv.get_dependencies_from_conda_yaml(ROOT / "conda.yaml")
    assert deps["python"] == "3.10"
    assert deps["dependencies"] == conda_pip_requirements(env)


@pytest.fixture(scope="module")
def project():
    from mlflow.projects._project_spec import load_project

    return load_project(str(ROOT))


def test_mlproject_loads_with_mlflow(project) -> None:
    from mlflow.projects import env_type

    assert project.name == "mlflow-tutorial"
    assert project.env_type == env_type.PYTHON
    assert Path(project.env_config_path) == ROOT / "python_env.yaml"
    assert set(project._entry_points) == {"main", "sweep"}


def test_main_entry_point_parameters(project) -> None:
    entry = project.get_entry_point("main")
    got = {name: (p.type, p.default) for name, p in entry.parameters.items()}
    assert got == MAIN_PARAMETERS


def test_sweep_entry_point_parameters(project) -> None:
    entry = project.get_entry_point("sweep")
    assert {name: p.type for name, p in entry.parameters.items()} == SWEEP_PARAMETERS
    for name in ("alphas", "l1_ratios"):
        default = entry.parameters[name].default
        assert isinstance(default, str) and len(default.split(",")) > 1


def rendered(project, entry_point: str, params: dict[str, str]) -> str:
    return project.get_entry_point(entry_point).compute_command(params, storage_dir=None)


def train_args(command: str) -> list[str]:
    """The arguments after ``python -m mlflow_tutorial train`` in a rendered command."""
    words = shlex.split(command)
    start = words.index("python")
    assert words[start : start + 4] == ["python", "-m", "mlflow_tutorial", "train"], command
    return words[start + 4 :]


def test_main_command_renders(project) -> None:
    command = rendered(project, "main", {"alpha": "0.3", "l1_ratio": "0.7"})
    # The shell's ${VAR:+...} survives str.format only when written ${{...}} in the MLproject.
    assert command.startswith("PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} python -m ")
    args = train_args(command)
    assert args[args.index("--alpha") + 1] == "0.3"
    assert args[args.index("--l1-ratio") + 1] == "0.7"
    # MLflow shell-quotes values: an empty string reaches the CLI as an empty argument.
    assert "--data ''" in command
    assert args[args.index("--data") + 1] == ""
    assert args[args.index("--target") + 1] == ""


def test_quoting_keeps_awkward_values_whole(project) -> None:
    command = rendered(project, "main", {"data_file": "my data; rm -rf x.csv"})
    args = train_args(command)
    assert args[args.index("--data") + 1] == "my data; rm -rf x.csv"


def test_sweep_command_passes_comma_lists(project) -> None:
    args = train_args(rendered(project, "sweep", {"alphas": "0.1,1.0", "l1_ratios": "0.5"}))
    assert args[args.index("--alpha") + 1] == "0.1,1.0"
    assert args[args.index("--l1-ratio") + 1] == "0.5"


@pytest.mark.parametrize("entry_point", ["main", "sweep"])
def test_cli_accepts_the_rendered_options(project, entry_point: str) -> None:
    """Parse (without running) the command's arguments with the real ``mlt train``."""
    import typer.main

    from mlflow_tutorial.cli import app

    group = typer.main.get_command(app)
    train = group.commands["train"]
    ctx = train.make_context("train", train_args(rendered(project, entry_point, {})))
    assert ctx.params["fmt"].value == "json"
    assert ctx.params["data"] == "" and ctx.params["target"] == ""
    assert ctx.params["dataset"] == "diabetes"
    if entry_point == "sweep":
        assert len(ctx.params["alpha"][0].split(",")) > 1
