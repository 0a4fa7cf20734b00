"""What a new user meets first: tables that fit a 100-column terminal, short flags with one
meaning each, format choices, a closed pipe, shell completion."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mlflow_tutorial.cli import app

runner = CliRunner()
WIDTH = 100
MODEL = "winequality-red-elasticnet"


@dataclass(frozen=True)
class Store:
    uri: str
    grid_table: str
    run_ids: list[str]


def render(*args: str) -> str:
    """A command's table at a 100-column terminal's width."""
    result = runner.invoke(app, [*args, "--format", "table"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout


def fits(text: str) -> list[str]:
    lines = text.splitlines()
    assert lines and max(len(line) for line in lines) <= WIDTH, text
    return lines


@pytest.fixture(scope="module")
def store(tmp_path_factory, empty_store: Path) -> Store:
    """A grid on winequality-red.csv, its best run registered with two aliases."""
    import shutil

    import numpy as np
    import pandas as pd

    home = tmp_path_factory.mktemp("tables")
    shutil.copy(empty_store, home / "mlflow.db")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    frame["quality"] = frame.x1 - 2 * frame.x2 + rng.normal(0, 0.1, 40)
    frame.to_csv(home / "winequality-red.csv", index=False)
    uri = f"sqlite:///{home / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
        grid = render("train", "--data", str(home / "winequality-red.csv"), "--alpha", "0.01,0.1")
        runs = json.loads(runner.invoke(app, ["compare", "--format", "json"]).stdout)
        registered = runner.invoke(app, ["register", "-a", "champion", "-a", "staging"])
        assert registered.exit_code == 0, registered.stderr
    return Store(uri, grid, [r["run_id"] for r in runs])


@pytest.fixture
def in_store(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    return store


def test_train_grid_table_fits_with_short_ids(in_store: Store) -> None:
    lines = fits(in_store.grid_table)
    for run_id in in_store.run_ids:
        assert sum(run_id[:8] in line for line in lines) == 1
        assert run_id not in in_store.grid_table


def test_compare_table_fits_with_short_ids_and_wide_has_full_ones(in_store: Store) -> None:
    table = render("compare")
    fits(table)
    assert all(r[:8] in table and r not in table for r in in_store.run_ids)
    wide = render("compare", "--wide")
    assert all(r in wide for r in in_store.run_ids)


def test_models_table_never_wraps_name_version_or_aliases(in_store: Store) -> None:
    lines = fits(render("models"))
    rows = [line for line in lines if MODEL in line]
    assert len(rows) == 1, lines
    cells = [cell.strip() for cell in rows[0].strip("│ ").split("│")]
    assert cells[:4] == [MODEL, "1", "champion, staging", in_store.run_ids[0][:8]]
    assert "models:/" not in "\n".join(lines)  # the URI is name@alias: shown with --wide
    assert f"models:/{MODEL}@champion" in render("models", "--wide")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["register", "--run", "-"], id="register"),
        pytest.param(["train", "--alpha", "0.3"], id="train-one-run"),
    ],
)
def test_single_records_fit_with_full_ids(in_store: Store, args: list[str]) -> None:
    if args[0] == "register":
        result = runner.invoke(
            app,
            [*args, "--format", "table"],
            input=in_store.run_ids[0] + "\n",
            env={"COLUMNS": str(WIDTH)},
        )
        assert result.exit_code == 0, result.stderr
        text = result.stdout
        assert in_store.run_ids[0] in text
    else:
        text = render(*args)
    lines = fits(text)
    assert not any(line.strip("│ ").startswith("│") for line in lines)


def test_short_flags_mean_one_thing() -> None:
    command = typer.main.get_command(app)
    meanings: dict[str, set[str]] = {}
    for sub in command.commands.values():  # type: ignore[attr-defined]
        for param in sub.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in [*param.opts, *param.secondary_opts] if len(o) == 2):
                meanings.setdefault(short, set()).update(longs)
    clashes = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert clashes == {}
    assert meanings["-m"] == {"--model"} and meanings["-n"] == {"--top"}


def test_predict_format_choices_exclude_table() -> None:
    result = runner.invoke(app, ["predict", "--format", "table"])
    assert result.exit_code == 2 and result.stdout == ""
    unboxed = "".join(ch for ch in result.stderr if ch not in "│ \n")  # Click's message, boxed
    assert "'table'isnotoneof'json','jsonl','csv'" in unboxed


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly_with_status_0(isolated_store: str) -> None:
    """`mlt models | head` when head has gone: a real pipe whose reader is closed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", "models", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before mlt writes
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert (proc.wait(timeout=120), stderr) == (0, b"")
