# docs/tutorial_code/registry.py
"""Step 6 with MLflow alone: read the registry, then register a model and set an alias."""

import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri("sqlite:///mlflow.db")  # the registry lives in the same store
client = MlflowClient()

champion = client.get_model_version_by_alias("diabetes-elasticnet", "champion")
print("champion: version", champion.version, "of run", champion.run_id)
print("aliases: ", client.get_registered_model("diabetes-elasticnet").aliases)
for v in client.search_model_versions("name = 'diabetes-elasticnet'", order_by=["version_number"]):
    print("version", v.version, "is", v.source)

# What `mlt register` did, for the model logged by docs/tutorial_code/train.py:
[run] = mlflow.search_runs(
    experiment_names=["mlflow-alone"],
    filter_string="attributes.run_name = 'base'",
    output_format="list",
)
model_uri = f"models:/{run.outputs.model_outputs[0].model_id}"
version = mlflow.register_model(model_uri, "diabetes-mlflow")
client.set_registered_model_alias("diabetes-mlflow", "champion", version.version)
print("registered", model_uri, "as diabetes-mlflow version", version.version)
