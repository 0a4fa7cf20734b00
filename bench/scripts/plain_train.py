"""The classic tutorial's training script (MLflow's sklearn_elasticnet_wine example), written
for MLflow 3: one process per (alpha, l1_ratio).

It fits the same model as ``mlt train --no-standardize`` (same split, same seed), so the
metrics must be identical. Without ``--pip-requirements`` MLflow infers them, as a plain
user's script does.
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

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("alpha", type=float)
parser.add_argument("l1_ratio", type=float)
parser.add_argument("--data", default="diabetes")
parser.add_argument("--sep", default=",")
parser.add_argument("--target", default="target")
parser.add_argument("--experiment", default="bench")
parser.add_argument("--pip-requirements", default="")
args = parser.parse_args()

if args.data == "diabetes":
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False).frame.astype("float64")
else:
    data = pd.read_csv(args.data, sep=args.sep)
    data.columns = [str(c).strip() for c in data.columns]
X = data.drop(columns=[args.target])
y = data[args.target]
train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.25, random_state=42)

mlflow.set_experiment(args.experiment)  # the store comes from MLFLOW_TRACKING_URI
with mlflow.start_run():
    lr = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
    lr.fit(train_x, train_y)
    predicted = lr.predict(test_x)
    metrics = {
        "rmse": float(root_mean_squared_error(test_y, predicted)),
        "mae": float(mean_absolute_error(test_y, predicted)),
        "r2": float(r2_score(test_y, predicted)),
    }
    mlflow.log_param("alpha", args.alpha)
    mlflow.log_param("l1_ratio", args.l1_ratio)
    mlflow.log_metrics(metrics)
    signature = infer_signature(train_x, lr.predict(train_x))
    extra = {}
    if args.pip_requirements:
        extra["pip_requirements"] = args.pip_requirements.split(",")
    info = mlflow.sklearn.log_model(
        lr, name="model", signature=signature, input_example=train_x.head(5), **extra
    )
json.dump(
    {
        "alpha": args.alpha,
        "l1_ratio": args.l1_ratio,
        "metrics": metrics,
        "model_uri": info.model_uri,
    },
    sys.stdout,
)
