# docs/tutorial_code/train.py
"""Step 1 with MLflow alone: train, then log params, metrics, data set and model in a run."""

from importlib.metadata import version

import mlflow
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

mlflow.set_tracking_uri("sqlite:///mlflow.db")  # the store mlt wrote to
mlflow.set_experiment("mlflow-alone")  # created on first use

data = load_diabetes(as_frame=True, scaled=False).frame
X, y = data.drop(columns="target"), data["target"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)
params = {"alpha": 0.5, "l1_ratio": 0.5}

with mlflow.start_run(run_name="base") as run:
    model = Pipeline([("scaler", StandardScaler()), ("elasticnet", ElasticNet(**params))])
    model.fit(X_train, y_train)
    predicted = model.predict(X_test)
    mlflow.log_params(params)
    mlflow.log_input(mlflow.data.from_pandas(data, name="diabetes", targets="target"))
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(X_train, model.predict(X_train)),
        input_example=X_train.head(5),
        pip_requirements=[
            f"{package}=={version(package)}"
            for package in ("scikit-learn", "numpy", "scipy", "pandas", "skops")
        ],
    )
    metrics = {
        "rmse": root_mean_squared_error(y_test, predicted),
        "mae": mean_absolute_error(y_test, predicted),
        "r2": r2_score(y_test, predicted),
    }
    mlflow.log_metrics(metrics, model_id=info.model_id)

print("run id:", run.info.run_id)
print("model: ", info.model_uri)
print("rmse:  ", round(metrics["rmse"], 2))

# The same numbers as mlt's run `base`, found by name in the experiment `mlt`.
[mlt_base] = mlflow.search_runs(
    experiment_names=["mlt"], filter_string="attributes.run_name = 'base'", output_format="list"
)
assert mlt_base.data.metrics["rmse"] == metrics["rmse"]
print("same rmse as mlt's run base:", mlt_base.info.run_id)
