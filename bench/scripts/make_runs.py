"""Fill an SQLite tracking store with runs shaped like mlt's, and registered versions.

    python make_runs.py DB_PATH EXPERIMENT N_RUNS [--versions N] [--model NAME]

The first runs (at most 50) are logged with MLflow's client, the way mlt logs them:
``create_run``, one ``log_batch`` of mlt's params, metrics (rmse, mae, r2) and tags, then
``set_terminated``; one run in 50 has no metrics (FAILED) and rmse is rounded so that ties
occur. Through the client a run costs about 40 ms of CPU here (7 minutes for 10,000), so the
rest are copies of those rows made with SQL inside MLflow's own schema (every column of
every row that names the run), each with a new run id, start time and metric values. The
same for ``--versions N``: version 1 is registered with the client, the others copied from
it. Prints what it made as JSON.
"""

import argparse
import json
import random
import sqlite3
import sys
import time
import uuid

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

LOGGED = 50
RUN_TABLES = ("params", "metrics", "latest_metrics", "tags")


def metric_values(rng: random.Random) -> dict[str, float]:
    rmse = round(50 + rng.random() * 10, 2)
    return {"rmse": rmse, "mae": round(rmse * 0.8, 4), "r2": round(1 - rmse / 120, 4)}


def log_runs(client: MlflowClient, experiment_id: str, n: int, rng, t0: int) -> list[str]:
    run_ids = []
    for i in range(n):
        start = t0 + i * 1000
        run = client.create_run(experiment_id, start_time=start, run_name=f"run-{i}")
        run_id = run.info.run_id
        params = {
            "alpha": rng.choice([0.01, 0.1, 0.5, 1.0, 2.0]),
            "l1_ratio": rng.choice([0.2, 0.5, 0.8]), "test_size": 0.25, "random_state": 42,
            "standardize": True, "dataset": "diabetes", "target": "target", "n_rows": 442,
            "n_features": 10,
        }  # fmt: skip
        metrics = metric_values(rng) if i % 50 != 7 else {}
        tags = {"mlt.version": "0.1.0", "mlt.dataset": "diabetes", "mlt.sweep_id": f"s{i // 6}",
                "mlt.model_uri": f"models:/m-{run_id}"}  # fmt: skip
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        client.set_terminated(run_id, "FINISHED" if metrics else "FAILED", end_time=start + 500)
        run_ids.append(run_id)
    return run_ids


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def copy_runs(db: sqlite3.Connection, templates: list[str], n: int, rng, t0: int) -> None:
    """Runs ``len(templates) .. n-1`` as copies of the logged ones, with their own values."""
    rows = {
        table: (cols := columns(db, table), db.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE run_uuid IN "
            f"({', '.join('?' * len(templates))})", templates).fetchall())
        for table in ("runs", *RUN_TABLES)
    }  # fmt: skip
    out: dict[str, list[tuple]] = {table: [] for table in rows}
    for i in range(len(templates), n):
        source = templates[i % len(templates)]
        new_id = uuid.uuid4().hex
        start = t0 + i * 1000
        values = metric_values(rng)
        for table, (cols, found) in rows.items():
            for row in found:
                record = dict(zip(cols, row, strict=True))
                if record["run_uuid"] != source:
                    continue
                record["run_uuid"] = new_id
                if table == "runs":
                    record.update(
                        name=f"run-{i}",
                        start_time=start,
                        end_time=start + 500,
                        artifact_uri=record["artifact_uri"].replace(source, new_id),
                    )
                elif table in ("metrics", "latest_metrics"):
                    record.update(value=values[record["key"]], timestamp=start)
                elif table == "tags" and record["key"] == "mlflow.runName":
                    record["value"] = f"run-{i}"
                elif table == "tags" and record["key"] == "mlt.model_uri":
                    record["value"] = f"models:/m-{new_id}"
                elif table == "tags" and record["key"] == "mlt.sweep_id":
                    record["value"] = f"s{i // 6}"
                out[table].append(tuple(record[c] for c in cols))
    for table, (cols, _) in rows.items():
        db.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            out[table],
        )


def copy_versions(db: sqlite3.Connection, model: str, n: int, run_ids: list[str]) -> None:
    """Versions 2..n of ``model`` as copies of version 1, each pointing at another run."""
    for table in ("model_versions", "model_version_tags"):
        cols = columns(db, table)
        found = db.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE name = ? AND version = 1", (model,)
        ).fetchall()
        out = []
        for version in range(2, n + 1):
            for row in found:
                record = dict(zip(cols, row, strict=True))
                record["version"] = version
                if table == "model_versions":
                    run_id = run_ids[(version - 1) % len(run_ids)]
                    record.update(
                        run_id=run_id,
                        source=f"runs:/{run_id}/model",
                        creation_time=record["creation_time"] + version,
                        last_updated_time=record["last_updated_time"] + version,
                    )
                out.append(tuple(record[c] for c in cols))
        db.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", out
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("experiment")
    parser.add_argument("runs", type=int)
    parser.add_argument("--versions", type=int, default=0)
    parser.add_argument("--model", default="bench-elasticnet")
    args = parser.parse_args()
    started = time.perf_counter()
    uri = f"sqlite:///{args.db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(args.experiment)
    rng = random.Random(42)
    t0 = int(time.time() * 1000) - args.runs * 1000
    run_ids = log_runs(client, experiment_id, min(args.runs, LOGGED), rng, t0)
    if args.versions:
        client.create_registered_model(args.model)
        client.create_model_version(
            args.model, f"runs:/{run_ids[0]}/model", run_id=run_ids[0],
            tags={"mlt.metric.rmse": "52.0", "mlt.dataset": "diabetes"},
        )  # fmt: skip
    db = sqlite3.connect(args.db)
    with db:
        copy_runs(db, run_ids, args.runs, rng, t0)
        if args.versions > 1:
            copy_versions(db, args.model, args.versions, run_ids)
    (runs,) = db.execute(
        "SELECT count(*) FROM runs WHERE experiment_id = ?", (experiment_id,)
    ).fetchone()
    (versions,) = db.execute(
        "SELECT count(*) FROM model_versions WHERE name = ?", (args.model,)
    ).fetchone()
    db.close()
    if args.versions:
        client.set_registered_model_alias(args.model, "champion", "1")
    json.dump(
        {"experiment_id": experiment_id, "runs": runs, "versions": versions,
         "seconds": time.perf_counter() - started},
        sys.stdout,
    )  # fmt: skip


main()
