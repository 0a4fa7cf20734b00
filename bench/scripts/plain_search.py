"""The plain-MLflow way to read a store: ``mlflow.search_runs`` or the registry's versions.

    python plain_search.py runs EXPERIMENT [--order-by CLAUSE --max-results N]
    python plain_search.py versions MODEL

The tracking URI comes from ``MLFLOW_TRACKING_URI``. Prints how many rows it read and the
first run ids (to check that mlt lists the same runs first) as JSON.
"""

import argparse
import json
import sys

import mlflow
from mlflow import MlflowClient

parser = argparse.ArgumentParser()
parser.add_argument("what", choices=["runs", "versions"])
parser.add_argument("name", help="experiment (runs) or registered model (versions)")
parser.add_argument("--order-by")
parser.add_argument("--max-results", type=int)
args = parser.parse_args()

if args.what == "runs":
    # mlflow.search_runs: a pandas DataFrame of every run (pages of 10,000), newest first.
    extra = {"order_by": [args.order_by]} if args.order_by else {}
    if args.max_results:
        extra["max_results"] = args.max_results
    runs = mlflow.search_runs(experiment_names=[args.name], **extra)
    found = {"rows": len(runs), "first": list(runs["run_id"][:5])}
else:
    # Every version of one registered model, page by page, and the aliases of the model.
    client = MlflowClient()
    versions, token = [], None
    while True:
        page = client.search_model_versions(
            f"name = '{args.name}'", max_results=1000, page_token=token
        )
        versions += page
        token = page.token
        if not token:
            break
    aliases = client.get_registered_model(args.name).aliases
    found = {"rows": len(versions), "aliases": sorted(aliases)}
json.dump(found, sys.stdout)
