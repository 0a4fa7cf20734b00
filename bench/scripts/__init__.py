"""Scripts the benchmark runs in the measured virtualenv: the plain-MLflow baselines
(``plain_*.py``) and small helpers. Each is a standalone program, never imported."""
