"""Training on a large CSV the plain-MLflow way: pandas reads it, scikit-learn fits the
pipeline mlt fits (StandardScaler + ElasticNet, same split and seed), and one MLflow run
gets the params, the test-set metrics and the model (signature and input example from a
5-row sample, explicit pip_requirements like mlt's).

    MLFLOW_TRACKING_URI=... python plain_train_pipeline.py DATA.csv --target y \\
        --pip-requirements scikit-learn==...,numpy==...
"""

import argparse
import json
import sys
import warnings

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("--target", default="y")
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--l1-ratio", type=float, default=0.5)
parser.add_argument("--experiment", default="bench")
parser.add_argument("--pip-requirements", default="")
args = parser.parse_args()

data = pd.read_csv(args.data)
X = data.drop(columns=[args.target])
y = data[args.target]
train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.25, random_state=42)

mlflow.set_experiment(args.experiment)  # the store comes from MLFLOW_TRACKING_URI
with mlflow.start_run():
    model = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("elasticnet", ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)),
        ]
    )
    model.fit(train_x, train_y)
    predicted = model.predict(test_x)
    metrics = {
        "rmse": float(root_mean_squared_error(test_y, predicted)),
        "mae": float(mean_absolute_error(test_y, predicted)),
        "r2": float(r2_score(test_y, predicted)),
    }
    mlflow.log_params({"alpha": args.alpha, "l1_ratio": args.l1_ratio})
    mlflow.log_metrics(metrics)
    sample = train_x.head(5)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(sample, model.predict(sample)),
        input_example=sample,
        pip_requirements=[p for p in args.pip_requirements.split(",") if p],
    )
json.dump({"metrics": metrics, "model_uri": info.model_uri}, sys.stdout)
