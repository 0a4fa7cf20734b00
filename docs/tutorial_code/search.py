# docs/tutorial_code/search.py
"""Step 3 with MLflow alone: search the runs of an experiment, best first."""

import mlflow

mlflow.set_tracking_uri("sqlite:///mlflow.db")

runs = mlflow.search_runs(
    experiment_names=["mlt"],
    filter_string="metrics.rmse < 53.1",
    order_by=["metrics.rmse ASC"],
    max_results=3,
)  # a pandas DataFrame, one row per run: its id, its params.*, metrics.* and tags.*
columns = ["run_id", "tags.mlflow.runName", "params.alpha", "params.l1_ratio", "metrics.rmse"]
print(runs[columns].round(2).to_string(index=False))
