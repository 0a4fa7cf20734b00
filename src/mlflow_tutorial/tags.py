"""The ``mlt.*`` tags mlt writes on runs and model versions (read back by several modules)."""

from __future__ import annotations

# On runs (training).
TAG_VERSION = "mlt.version"
TAG_DATASET = "mlt.dataset"
TAG_SWEEP = "mlt.sweep_id"
TAG_MODEL_URI = "mlt.model_uri"

# On registered model versions (registry).
TAG_SOURCE_RUN = "mlt.source_run"
TAG_METRIC_PREFIX = "mlt.metric."

# MLflow's own tag linking a child run to its parent.
TAG_PARENT_RUN = "mlflow.parentRunId"
