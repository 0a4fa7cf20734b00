# docs/tutorial_code/project.py
"""Step 5 with MLflow alone: what `mlflow run` recorded, and a fresh environment's result."""

import mlflow

mlflow.set_tracking_uri("sqlite:///mlflow.db")

runs = mlflow.search_runs(
    experiment_names=["mlt"],
    filter_string="tags.mlflow.source.type = 'PROJECT'",
    order_by=["attributes.start_time ASC"],
    output_format="list",
)
for run in runs:
    tags, rmse = run.data.tags, run.data.metrics["rmse"]
    environment = tags.get("mlflow.project.env", "the current one")  # none with local
    print(
        f"{run.info.run_name}: source {tags['mlflow.source.type']},"
        f" entry point {tags['mlflow.project.entryPoint']},"
        f" environment {environment}, rmse {rmse:.2f}"
    )

# The same code and parameters in a fresh environment: the same result.
project, fresh = runs
assert fresh.data.metrics == project.data.metrics
