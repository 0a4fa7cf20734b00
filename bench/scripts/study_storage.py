"""Per-trial storage cost of an Optuna study kept in three places, measured without any fit.

    python bench/scripts/study_storage.py TRIALS [postgresql://...] [--no-mlflow-storage]

Each storage runs ``TRIALS`` trials of a seeded TPE search over alpha (log) and l1_ratio whose
objective does no work, so the time between two trials is the storage's and the sampler's
alone. Storages:

- ``mlflow.optuna.MlflowStorage`` on an SQLite tracking store (the study is runs of MLflow);
- Optuna's ``RDBStorage`` on an SQLite file, plus one MLflow run per trial with its params
  and score (what ``mlt tune`` logs at the least), so both sides leave the same runs behind;
- the same on PostgreSQL, when a URI is given.

Prints one JSON object: for each storage, the median seconds per trial over the first 20
trials and over the last 20.
"""

import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import mlflow
import optuna
from mlflow.optuna.storage import MlflowStorage

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def search(storage, trials: int, on_trial=None) -> list[float]:
    study = optuna.create_study(
        storage=storage,
        study_name="bench",
        sampler=optuna.samplers.TPESampler(seed=0),
        load_if_exists=True,
    )
    stamps = [time.perf_counter()]

    def objective(trial):
        alpha = trial.suggest_float("alpha", 1e-4, 10, log=True)
        l1_ratio = trial.suggest_float("l1_ratio", 0, 1)
        score = -((alpha - 0.1) ** 2) - (l1_ratio - 0.5) ** 2
        if on_trial:
            on_trial(trial, {"alpha": alpha, "l1_ratio": l1_ratio}, score)
        return score

    def stamp(_study, _trial):
        stamps.append(time.perf_counter())

    study.optimize(objective, n_trials=trials, callbacks=[stamp])
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def mlflow_run(experiment_id: str, parent_id: str):
    client = mlflow.MlflowClient()

    def log(trial, params, score):
        run = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent_id})
        client.log_batch(
            run.info.run_id,
            metrics=[mlflow.entities.Metric("cv_score", score, int(time.time() * 1000), 0)],
            params=[mlflow.entities.Param(k, str(v)) for k, v in params.items()],
        )
        client.set_terminated(run.info.run_id)

    return log


def summary(times: list[float]) -> dict[str, float]:
    return {
        "first_20": statistics.median(times[:20]),
        "last_20": statistics.median(times[-20:]),
    }


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-mlflow-storage"]
    trials = int(args[0])
    postgres = args[1] if len(args) > 1 else None
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        experiment = mlflow.set_experiment("bench")
        client = mlflow.MlflowClient()
        if "--no-mlflow-storage" not in sys.argv:
            out["MlflowStorage (SQLite)"] = summary(
                search(MlflowStorage(experiment.experiment_id), trials)
            )
        for label, url in [
            ("RDBStorage (SQLite) + MLflow runs", f"sqlite:///{root / 'optuna.db'}"),
            ("RDBStorage (PostgreSQL) + MLflow runs", postgres),
        ]:
            if not url:
                continue
            parent = client.create_run(experiment.experiment_id).info.run_id
            log = mlflow_run(experiment.experiment_id, parent)
            out[label] = summary(search(optuna.storages.RDBStorage(url), trials, log))
    print(json.dumps({"trials": trials, "seconds_per_trial": out}))


if __name__ == "__main__":
    main()
