# docs/tutorial_code/sweep.py
"""Step 2 with MLflow alone: a grid, one child run per combination under a parent run."""

from itertools import product

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("mlflow-alone")

X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)

with mlflow.start_run(run_name="grid") as parent:
    for alpha, l1_ratio in product([0.01, 0.1, 1], [0.2, 0.5, 0.8]):
        with mlflow.start_run(run_name=f"grid-{alpha}-{l1_ratio}", nested=True):
            model = make_pipeline(StandardScaler(), ElasticNet(alpha=alpha, l1_ratio=l1_ratio))
            model.fit(X_train, y_train)
            mlflow.log_params({"alpha": alpha, "l1_ratio": l1_ratio})
            mlflow.log_metric("rmse", root_mean_squared_error(y_test, model.predict(X_test)))

# The children of this parent, best first: the same winner as mlt's grid.
[best] = mlflow.search_runs(
    filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    order_by=["metrics.rmse ASC"],
    max_results=1,
    output_format="list",
)
print("best:", best.info.run_name, "rmse", round(best.data.metrics["rmse"], 2))
