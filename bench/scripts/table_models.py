"""Two raw-table models for the serving benchmark, fitted and logged the plain-MLflow way: a
made-up table (numbers with gaps, whole numbers, text with gaps and rare categories, booleans
as "True"/"False" text), the pipeline mlt logs for such tables (median imputer and scaler for
numbers; constant imputers and one-hot with grouped and unknown categories for text), then
ElasticNet (a regressor) and elastic-net LogisticRegression (a three-class classifier).
Prints the two model URIs and payload rows (raw, with gaps as null).

    MLFLOW_TRACKING_URI=... python table_models.py ROWS --pip-requirements scikit-learn==...
"""

import argparse
import json
import sys
import warnings

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("rows", type=int)
parser.add_argument("--experiment", default="bench-tables")
parser.add_argument("--pip-requirements", default="")
args = parser.parse_args()

rng = np.random.default_rng(42)
n = 2000
colours = ["red", "green", "blue", "grey", "mauve", "teal", "ochre"]
frame = pd.DataFrame(
    {
        "length": rng.normal(10, 3, n),
        "width": rng.normal(4, 1, n),
        "age": rng.integers(0, 80, n),
        "colour": rng.choice(colours, n, p=[0.3, 0.25, 0.2, 0.15, 0.07, 0.02, 0.01]),
        "place": rng.choice(["north", "south", "east", "west", "Zürich"], n),
        "indoor": rng.choice(["True", "False"], n),
    }
)
frame.loc[rng.random(n) < 0.05, "length"] = np.nan
frame.loc[rng.random(n) < 0.05, "colour"] = np.nan
frame["colour"] = frame["colour"].astype(object)
target = (
    2 * frame["length"].fillna(10)
    + frame["width"]
    + 0.1 * frame["age"]
    + 4 * (frame["colour"] == "red")
    + rng.normal(size=n)
)
labels = pd.cut(target, 3, labels=["small", "medium", "large"]).astype(str)


def pipeline(estimator):
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    text = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            (
                "impute_none",
                SimpleImputer(missing_values=None, strategy="constant", fill_value="missing"),
            ),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False
                ),
            ),
        ]
    )
    columns = ColumnTransformer(
        [
            ("numeric", numbers, ["length", "width", "age"]),
            ("categorical", text, ["colour", "place", "indoor"]),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("columns", columns), ("model", estimator)])


mlflow.set_experiment(args.experiment)  # the store comes from MLFLOW_TRACKING_URI
uris = {}
for kind, estimator, y in (
    ("regressor", ElasticNet(alpha=0.01, l1_ratio=0.5, random_state=42), target),
    ("classifier", LogisticRegression(C=0.5, l1_ratio=0.5, solver="saga", max_iter=1000), labels),
):
    model = pipeline(estimator)
    model.fit(frame, y)
    with mlflow.start_run(run_name=kind):
        sample = frame.head(5)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict(sample)),
            input_example=sample,
            skops_trusted_types=["numpy.dtype"],
            pip_requirements=[p for p in args.pip_requirements.split(",") if p],
        )
    uris[kind] = info.model_uri

rows = frame.sample(args.rows, replace=True, random_state=7)
rows.loc[rows.index[1::9], "colour"] = "purple"  # unknown categories
data = [
    [None if v != v else (v.item() if hasattr(v, "item") else v) for v in row]
    for row in rows.itertuples(index=False)
]
json.dump({"models": uris, "columns": list(frame.columns), "rows": data}, sys.stdout)
