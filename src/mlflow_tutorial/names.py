"""The names mlt writes and reads back: tags on runs and model versions, the model's artifact
name, registered-model names and aliases."""

from __future__ import annotations

# On runs (training).
TAG_VERSION = "mlt.version"
TAG_DATASET = "mlt.dataset"
TAG_SWEEP = "mlt.sweep_id"
TAG_MODEL_URI = "mlt.model_uri"
TAG_TASK = "mlt.task"  # regression or classification (runs without it: regression)
TAG_STUDY = "mlt.study"  # a study's parent run and its trials' runs (tuning)
TAG_TRIAL = "mlt.trial"
DEFAULT_TASK = "regression"

# On registered model versions (registry).
TAG_SOURCE_RUN = "mlt.source_run"
TAG_METRIC_PREFIX = "mlt.metric."

# On registered models: one tag per alias move (registry/history.py).
TAG_HISTORY_PREFIX = "mlt.history."

# MLflow's own tags: the one linking a child run to its parent, and a run's description (what
# MLflow's UI shows under "Description").
TAG_PARENT_RUN = "mlflow.parentRunId"
TAG_RUN_NOTE = "mlflow.note.content"

# The logged model's name in a run (``mlflow.sklearn.log_model(name=MODEL_NAME)``).
MODEL_NAME = "model"

# Registered models: ``<dataset>-elasticnet`` (``<dataset>-logistic`` for a classifier),
# alias ``champion``.
MODEL_SUFFIX = "elasticnet"
MODEL_SUFFIXES = {"regression": MODEL_SUFFIX, "classification": "logistic"}
DEFAULT_ALIAS = "champion"
DEFAULT_DATASET = "diabetes"


def default_model_name(dataset: str | None, task: str | None = None) -> str:
    """The registered-model name mlt uses for a data set and task: ``<dataset>-elasticnet``,
    ``<dataset>-logistic`` for a classifier."""
    return f"{dataset or 'model'}-{MODEL_SUFFIXES.get(task or 'regression', MODEL_SUFFIX)}"


DEFAULT_MODEL_URI = f"models:/{default_model_name(DEFAULT_DATASET)}@{DEFAULT_ALIAS}"
