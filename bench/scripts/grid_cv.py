"""The baseline of the tuning scenario: a grid over the same ranges as ``mlt tune``, scored
with the same cross-validation, the plain scikit-learn way (GridSearchCV).

    python grid_cv.py ALPHAS L1_RATIOS [--data CSV|diabetes --sep SEP --target COL]
        [--seed N] [--folds N]

ALPHAS is ``LOW,HIGH,N`` (N points, log-spaced), L1_RATIOS ``LOW,HIGH,N`` (linear). Prints
{"best_cv_rmse": ..., "best_params": {...}, "points": N} on stdout.
"""

import argparse
import json

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("alphas")
parser.add_argument("l1_ratios")
parser.add_argument("--data")
parser.add_argument("--target")
parser.add_argument("--sep", default=",")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--folds", type=int, default=5)
parser.add_argument("--test-size", type=float, default=0.25)
args = parser.parse_args()

if args.data and args.data != "diabetes":
    frame = pd.read_csv(args.data, sep=args.sep)
    target = args.target or ("target" if "target" in frame.columns else frame.columns[-1])
else:
    frame = load_diabetes(as_frame=True, scaled=False).frame.astype("float64")
    target = "target"
X, y = frame.drop(columns=[target]), frame[target]
X_train, _X_test, y_train, _y_test = train_test_split(
    X, y, test_size=args.test_size, random_state=args.seed
)
a_low, a_high, a_n = (float(v) for v in args.alphas.split(","))
r_low, r_high, r_n = (float(v) for v in args.l1_ratios.split(","))
grid = {
    "elasticnet__alpha": list(np.geomspace(a_low, a_high, int(a_n))),
    "elasticnet__l1_ratio": list(np.linspace(r_low, r_high, int(r_n))),
}
pipeline = Pipeline(
    [("scaler", StandardScaler()), ("elasticnet", ElasticNet(random_state=args.seed))]
)
search = GridSearchCV(
    pipeline,
    grid,
    cv=KFold(args.folds, shuffle=True, random_state=args.seed),
    scoring="neg_root_mean_squared_error",
)
search.fit(X_train, y_train)
print(
    json.dumps(
        {
            "best_cv_rmse": float(-search.best_score_),
            "best_params": {k.split("__")[1]: float(v) for k, v in search.best_params_.items()},
            "points": int(a_n * r_n),
        }
    )
)
