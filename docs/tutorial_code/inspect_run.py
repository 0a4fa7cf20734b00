# docs/tutorial_code/inspect_run.py
"""Step 4 with MLflow alone: what a run holds, the way the UI reads it."""

import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri("sqlite:///mlflow.db")
client = MlflowClient()

[run] = mlflow.search_runs(
    experiment_names=["mlt"], filter_string="attributes.run_name = 'base'", output_format="list"
)
print("params: ", {k: run.data.params[k] for k in ("alpha", "l1_ratio")})
print("metrics:", {k: round(v, 2) for k, v in sorted(run.data.metrics.items())})
dataset = run.inputs.dataset_inputs[0].dataset
print("dataset:", dataset.name, "digest", dataset.digest)
print("plots:  ", [a.path for a in client.list_artifacts(run.info.run_id, "plots")])

model_id = run.outputs.model_outputs[0].model_id
model = mlflow.models.get_model_info(f"models:/{model_id}")
print("model:  ", model.model_uri, "from run", model.run_id)
print("inputs: ", model.signature.inputs.input_names())
