"""Training on a large mixed table (numbers and text, with gaps) the plain-MLflow way: pandas
reads the CSV with its defaults, scikit-learn fits the pipeline mlt fits for such a table
(numeric columns median-imputed and scaled; text columns' gaps, NaN or None, filled with
"missing", then one-hot encoded with rare categories grouped and unknown ones accepted; then
ElasticNet; same split and seed), and one MLflow run gets the params, the test-set metrics
and the model (signature and input example from a 5-row sample, explicit pip_requirements
like mlt's).

    MLFLOW_TRACKING_URI=... python plain_train_table.py DATA.csv --target y \\
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
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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
numeric = X.select_dtypes("number").columns.tolist()
text = [c for c in X.columns if c not in numeric]
train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.25, random_state=42)

mlflow.set_experiment(args.experiment)  # the store comes from MLFLOW_TRACKING_URI
with mlflow.start_run():
    columns = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        (  # a server hands a text column's nulls over as None
                            "impute_none",
                            SimpleImputer(
                                missing_values=None, strategy="constant", fill_value="missing"
                            ),
                        ),
                        (
                            "onehot",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist",
                                min_frequency=5,
                                sparse_output=False,
                            ),
                        ),
                    ]
                ),
                text,
            ),
        ],
        verbose_feature_names_out=False,
    )
    model = Pipeline(
        [
            ("columns", columns),
            ("model", ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)),
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
        skops_trusted_types=["numpy.dtype"],
        pip_requirements=[p for p in args.pip_requirements.split(",") if p],
    )
json.dump({"metrics": metrics, "model_uri": info.model_uri}, sys.stdout)
