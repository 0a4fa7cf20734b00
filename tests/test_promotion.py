"""Gated promotion, alias history, rollback, short run ids and mlt diff, on real SQLite stores.

The data make recorded metrics mislead: a few rows carry large noise, so a test split that
holds them is hard and one that misses them is easy. The champion is a weak model (strong
regularization) whose seed gave it an easy split; the challenger a good model whose seed gave
it a hard one. Recorded rmse favours the champion; on the same rows the challenger wins.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.errors import IncomparableError
from mlflow_tutorial.registry.history import alias_history, record_move
from mlflow_tutorial.registry.promotion import MinDelta, promote_if_better
from mlflow_tutorial.registry.versions import alias_version, register_model
from mlflow_tutorial.tracking import runs as run_ids
from mlflow_tutorial.tracking.training import TrainOptions, TrainResult, train, train_grid

runner = CliRunner()
NAME = "promo-elasticnet"
GOOD, BAD = 0.01, 1.0  # alphas: the good model and the over-regularized one


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def write_data(path: Path, rows: int = 120) -> Path:
    """y = 3 x1 - 2 x2 + x3 + noise, with large noise on one row in eight."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, 3))
    noise = rng.normal(0, 0.3, rows)
    noisy = np.arange(rows) % 8 == 0
    noise[noisy] = rng.normal(0, 8.0, noisy.sum())
    y = 3 * x[:, 0] - 2 * x[:, 1] + x[:, 2] + noise
    pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "y": y}).to_csv(path, index=False)
    return path


def misleading_seeds(path: Path) -> tuple[int, int]:
    """(seed of the good model's hard split, seed of the weak model's easy split) such that the
    weak model's recorded rmse is the lower one, yet on the hard split the good model wins."""
    from mlflow_tutorial.data import load_dataset, split
    from mlflow_tutorial.tracking.training import build_pipeline, evaluate

    data = load_dataset(path=str(path), target="y")
    fits = {}
    for seed in range(40):
        parts = split(data, 0.25, seed)
        for alpha in (GOOD, BAD):
            model = build_pipeline(alpha, 0.5, True, seed).fit(parts.X_train, parts.y_train)
            fits[alpha, seed] = (model, parts, evaluate(model, parts.X_test, parts.y_test)["rmse"])
    hard = max(range(40), key=lambda s: fits[GOOD, s][2])
    easy = min(range(40), key=lambda s: fits[BAD, s][2])
    weak, hard_parts = fits[BAD, easy][0], fits[GOOD, hard][1]
    good, easy_parts = fits[GOOD, hard][0], fits[BAD, easy][1]
    assert fits[BAD, easy][2] < fits[GOOD, hard][2]
    assert evaluate(weak, hard_parts.X_test, hard_parts.y_test)["rmse"] > fits[GOOD, hard][2]
    assert evaluate(good, easy_parts.X_test, easy_parts.y_test)["rmse"] < fits[BAD, easy][2]
    return hard, easy


@dataclass(frozen=True)
class Runs:
    good: TrainResult  # alpha 0.01 on a hard split: recorded rmse high
    weak: TrainResult  # alpha 1 on an easy split: recorded rmse low
    other: TrainResult  # another data set (other columns)
    sweep: list[TrainResult]  # a grid on the promo data


@pytest.fixture(scope="module")
def template(make_store) -> tuple[Path, Runs]:
    with make_store("promotion") as store:
        data = write_data(store.root / "promo.csv")
        hard, easy = misleading_seeds(data)

        def options(seed: int, path: Path = data) -> TrainOptions:
            return TrainOptions(data=str(path), target="y", random_state=seed, plots=False)

        good = train(GOOD, 0.5, options(hard))
        weak = train(BAD, 0.5, options(easy))
        sweep = train_grid([0.1, 0.3], [0.5], options(hard))
        other_csv = store.root / "other.csv"
        write_data(other_csv)
        text = other_csv.read_text().replace("x3", "z", 1)
        other_csv.write_text(text)
        other = train(GOOD, 0.5, options(0, other_csv))
    return Path(store.uri.removeprefix("sqlite:///")), Runs(good, weak, other, sweep)


@pytest.fixture
def runs(isolated_store: str, template) -> Runs:
    """This test's store: a copy of the template's (the artifacts stay where they are)."""
    path, results = template
    shutil.copy(path, isolated_store.removeprefix("sqlite:///"))
    return results


def champion() -> int | None:
    return alias_version(MlflowClient(), NAME, "champion")


def register(run: TrainResult) -> int:
    return register_model(Tracking.resolve(), run_id=run.run_id, name=NAME).version


# -- judged on the same rows -----------------------------------------------------------------


def test_a_better_challenger_is_promoted_on_the_same_rows(runs):
    assert runs.weak.metrics["rmse"] < runs.good.metrics["rmse"]  # recorded: weak looks better
    register(runs.weak)

    result = promote_if_better(Tracking.resolve(), runs.good.run_id, NAME)

    assert result.outcome == "promoted" and result.version == 2
    assert champion() == 2
    assert result.champion is not None and result.champion.version == 1
    # Both scored on the challenger's own test split: its score is what it recorded ...
    assert result.challenger.score == pytest.approx(runs.good.metrics["rmse"])
    assert result.rows == 30  # 25 % of 120 rows
    # ... and the champion, scored there, is worse than it recorded.
    assert result.champion.recorded == pytest.approx(runs.weak.metrics["rmse"])
    assert result.champion.score > result.challenger.score > result.champion.recorded
    assert result.higher_is_better is False


def test_a_worse_challenger_is_kept_with_exit_3_and_nothing_written(runs):
    register(runs.good)
    client = MlflowClient()
    history = alias_history(client, NAME)

    done = invoke("register", "--if-better", "--run", runs.weak.run_id, "--name", NAME, "-fjson")

    assert done.exit_code == 3, done.stderr
    out = json.loads(done.stdout)
    assert out["outcome"] == "kept" and out["version"] == 1
    # The recorded rmse would have promoted it; on the same rows it loses.
    assert out["challenger"]["recorded"] < out["champion"]["recorded"]
    assert out["challenger"]["score"] > out["champion"]["score"]
    assert out["challenger"]["score"] == pytest.approx(runs.weak.metrics["rmse"])
    assert out["champion"]["score"] < out["champion"]["recorded"]  # an easy split for it too
    assert out["reason"].startswith("rmse ") and "is not lower than" in out["reason"]
    assert champion() == 1
    assert len(client.search_model_versions(f"name = '{NAME}'")) == 1  # no version for it
    assert alias_history(client, NAME) == history


def test_exit_codes_and_both_scores_side_by_side(runs):
    # No holder yet (no model even): promoted, exit 0.
    first = invoke("register", "--if-better", "--run", runs.weak.run_id, "--name", NAME, "-fjson")
    assert first.exit_code == 0, first.stderr
    out = json.loads(first.stdout)
    assert (out["outcome"], out["champion"], out["version"]) == ("promoted", None, 1)
    assert out["reason"] == "no version held 'champion'"

    # The holder itself again: nothing to do, exit 0.
    again = invoke("register", "--if-better", "--run", runs.weak.run_id, "--name", NAME, "-fjson")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["outcome"] == "current"

    # A better one: the table has both scores, stderr the verdict.
    table = invoke("register", "--if-better", "--run", runs.good.run_id, "--name", NAME, "-ftable")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("rmse (lower is better) on 30 test rows of promo (")
    challenger = next(line for line in lines if "challenger" in line)
    holder = next(line for line in lines if "champion" in line)
    assert runs.good.run_id[:8] in challenger and runs.weak.run_id[:8] in holder
    assert table.stderr.startswith(f"Promoted: {NAME}@champion -> version 2: rmse ")

    # Errors keep their exit code 1, usage errors 2.
    assert invoke("register", "--if-better", "--run", "0" * 32, "--name", NAME).exit_code == 1
    assert invoke("register", "--if-better", "-a", "a", "-a", "b").exit_code == 2
    assert invoke("register", "--min-delta", "1").exit_code == 2


def test_min_delta_absolute_and_relative(runs):
    register(runs.weak)
    tracking = Tracking.resolve()
    first = promote_if_better(tracking, runs.good.run_id, NAME, min_delta="1000")
    assert first.outcome == "kept" and champion() == 1
    assert first.champion is not None and first.challenger.score is not None
    gain = first.champion.score - first.challenger.score  # type: ignore[operator]
    assert gain > 0
    share = gain / first.champion.score  # type: ignore[operator]

    def outcome(delta: str) -> tuple[int, str]:
        done = invoke(
            "register", "--if-better", "--run", runs.good.run_id[:8], "--name", NAME,
            "--min-delta", delta, "-f", "json",
        )  # fmt: skip
        return done.exit_code, json.loads(done.stdout)["outcome"] if done.stdout else done.stderr

    assert outcome(f"{gain * 1.01}") == (3, "kept")
    assert outcome(f"{share * 100 * 1.01:.6f}%") == (3, "kept")
    assert champion() == 1
    assert outcome(f"{share * 100 * 0.99:.6f}%") == (0, "promoted")
    assert champion() == 2
    move = alias_history(MlflowClient(), NAME)[0]
    assert move.details["min_delta"] == f"{float(f'{share * 100 * 0.99:.6f}'):g}%"

    assert MinDelta.parse("0.5") == MinDelta(0.5)
    assert MinDelta.parse("2%") == MinDelta(0.02, relative=True)
    bad = invoke("register", "--if-better", "--min-delta", "-1")
    assert bad.exit_code == 2 and "--min-delta" in bad.stderr


def test_other_data_sets_and_tasks_are_refused(runs, one_line_error):
    register(runs.weak)
    done = invoke("register", "--if-better", "--run", runs.other.run_id, "--name", NAME)
    one_line_error(
        done,
        re.compile(
            rf"cannot compare run {runs.other.run_id[:8]} and version 1 "
            rf"\(run {runs.weak.run_id[:8]}\): data sets differ \(other \w{{8}} vs promo \w{{8}}\)"
        ),
    )
    MlflowClient().set_tag(runs.good.run_id, "mlt.task", "classification")
    with pytest.raises(IncomparableError, match=r"tasks differ \(classification vs regression\)"):
        promote_if_better(Tracking.resolve(), runs.good.run_id, NAME)
    assert champion() == 1
    assert len(MlflowClient().search_model_versions(f"name = '{NAME}'")) == 1


# -- history and rollback --------------------------------------------------------------------


def history(fmt: str) -> str:
    # --wide: a table at its natural width, whatever width the runner's terminal has.
    done = invoke("models", NAME, "--history", "-f", fmt, "--wide")
    assert done.exit_code == 0, done.stderr
    return done.stdout


def test_history_after_several_moves_and_a_rollback(runs, monkeypatch):
    tracking = Tracking.resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    register(runs.weak)  # v1, by --run
    promote_if_better(tracking, runs.good.run_id, NAME)  # v2, if-better
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    rollback = invoke("register", "--version", "1", "--name", NAME, "-f", "json")
    assert rollback.exit_code == 0, rollback.stderr
    assert json.loads(rollback.stdout)["aliases"] == ["champion"]
    assert champion() == 1
    again = invoke("register", "--version", "1", "--name", NAME, "-f", "json")  # no move
    assert again.exit_code == 0

    moves = json.loads(history("json"))
    assert [(m["from_version"], m["to_version"], m["why"], m["who"]) for m in moves] == [
        (2, 1, "manual", "bob"),
        (1, 2, "if-better", "alice"),
        (None, 1, "run", "alice"),
    ]
    assert moves[0]["when"] >= moves[1]["when"] >= moves[2]["when"]
    scores = moves[1]["details"]
    assert scores["metric"] == "rmse" and scores["challenger"] < scores["champion"]
    assert [json.loads(line)["to_version"] for line in history("jsonl").splitlines()] == [1, 2, 1]
    rows = list(csv.DictReader(io.StringIO(history("csv"))))
    assert [(r["to_version"], r["why"]) for r in rows] == [
        ("1", "manual"),
        ("2", "if-better"),
        ("1", "run"),
    ]
    table = [line for line in history("table").splitlines() if "champion" in line]
    assert ["manual" in table[0], "if-better" in table[1], " run " in table[2]] == [True] * 3
    assert "rmse" in table[1] and " vs " in table[1]
    # Every model's history, and the alias moves sit in the registry as model tags.
    assert json.loads(invoke("models", "--history", "-f", "json").stdout) == moves
    tags = MlflowClient().get_registered_model(NAME).tags
    assert len([k for k in tags if k.startswith("mlt.history.")]) == 3

    unknown = invoke("register", "--version", "9", "--name", NAME)
    assert unknown.stderr == f"Error: version 9 of model {NAME!r} not found\n"


def test_a_move_overtaken_at_the_same_moment_is_placed_before_the_winner(runs):
    """Two moves of one alias at once, interleaved by hand: A points it at 1, B at 2, B
    records, then A records. The alias ends at 2, and so must the history."""
    register(runs.weak)
    register_model(Tracking.resolve(), run_id=runs.good.run_id, name=NAME, aliases=())
    client = MlflowClient()
    client.set_registered_model_alias(NAME, "blue", "1")  # A
    client.set_registered_model_alias(NAME, "blue", "2")  # B
    now = lambda: alias_version(client, NAME, "blue")  # noqa: E731
    record_move(client, NAME, "blue", None, 2, "manual", current=now)  # B
    record_move(client, NAME, "blue", None, 1, "manual", current=now)  # A, last to write
    moves = alias_history(client, NAME, "blue")
    assert [m.to_version for m in moves] == [2, 1]
    assert now() == 2


# -- short ids and diff ----------------------------------------------------------------------


def test_short_ids_and_an_ambiguous_prefix(runs, one_line_error, monkeypatch):
    done = invoke("register", "--run", runs.good.run_id[:8], "--name", NAME, "-f", "json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["run_id"] == runs.good.run_id

    rows = Path("rows.csv")
    rows.write_text("x1,x2,x3\n0.5,-1,2\n")
    short, full = (
        invoke("predict", "--model", f"runs:/{run_id}/model", "--input", str(rows), "-f", "json")
        for run_id in (runs.good.run_id[:8], runs.good.run_id)
    )
    assert short.exit_code == 0, short.stderr
    assert json.loads(short.stdout) == json.loads(full.stdout)

    taken = {r.info.run_id[:4] for r in MlflowClient().search_runs(["1"])}
    free = next(p for p in (f"{i:04x}" for i in range(65536)) if p not in taken)
    one_line_error(
        invoke("diff", free, runs.good.run_id[:8]),
        f"no run id starts with {free!r} in experiment 'mlt'",
    )

    # 17 runs: two of them share a first hex digit, so a one-character prefix is ambiguous.
    client = MlflowClient()
    experiment = client.get_experiment_by_name("mlt").experiment_id
    ids = [client.create_run(experiment).info.run_id for _ in range(17)]
    for run_id in ids:
        client.set_terminated(run_id)
    monkeypatch.setattr(run_ids, "MIN_PREFIX", 1)
    every = [r.info.run_id for r in client.search_runs([experiment], max_results=100)]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in every) > 1)
    candidates = [i for i in every if i.startswith(shared)]
    done = invoke("diff", shared, runs.good.run_id)
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.startswith(f"Error: run id '{shared}' is ambiguous in experiment 'mlt': ")
    assert done.stderr.count("\n") == 1
    listed = done.stderr.split(": ", 2)[2].strip().removesuffix(", ...").split(", ")
    assert set(listed) <= set(candidates) and len(listed) == min(len(candidates), 5)


def test_diff_of_two_runs_of_one_sweep(runs):
    a, b = runs.sweep
    done = invoke("diff", a.run_id[:8], b.run_id[:8], "-f", "json")
    assert done.exit_code == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["run_a"], out["run_b"]) == (a.run_id, b.run_id)
    fields = {row["field"]: (row["a"], row["b"]) for row in out["rows"]}
    assert fields["params.alpha"] == ("0.1", "0.3")
    assert fields["metrics.rmse"] == (a.metrics["rmse"], b.metrics["rmse"])
    assert all(row["differs"] for row in out["rows"])
    # Same data, split, sweep and columns: none of them is listed.
    assert not [f for f in fields if f.startswith(("dataset.", "signature.", "params.test_size"))]
    assert "tags.mlt.sweep_id" not in fields

    every = json.loads(invoke("diff", a.run_id, b.run_id, "--all", "-f", "json").stdout)["rows"]
    same = {row["field"]: row["a"] for row in every if not row["differs"]}
    assert same["tags.mlt.sweep_id"] == a.sweep_id
    assert same["signature.columns"] == "x1, x2, x3"
    assert same["dataset.rows"] == 120

    rows = list(csv.DictReader(io.StringIO(invoke("diff", a.run_id, b.run_id, "-f", "csv").stdout)))
    assert rows[0].keys() == {"field", "a", "b", "differs"}
    assert {r["field"] for r in rows} == set(fields)
    table = invoke("diff", a.run_id, b.run_id, "-f", "table").stdout
    assert a.run_id[:8] in table.splitlines()[1] and "params.alpha" in table


def test_diff_across_data_sets(runs):
    done = invoke("diff", runs.good.run_id, runs.other.run_id, "-f", "json")
    assert done.exit_code == 0, done.stderr
    fields = {row["field"]: (row["a"], row["b"]) for row in json.loads(done.stdout)["rows"]}
    assert fields["dataset.name"] == ("promo", "other")
    assert fields["params.dataset"] == ("promo", "other")
    assert fields["signature.columns"] == ("x1, x2, x3", "x1, x2, z")
    digest_a, digest_b = fields["dataset.digest"]
    assert digest_a != digest_b and len(digest_a) == 8
    assert "dataset.rows" not in fields  # 120 rows each
