"""Seconds between consecutive trial completions of an Optuna study, in trial order: what one
more trial costs, sampler, storage, fit and MLflow logging included.

    python study_times.py STORAGE_URL STUDY   -> {"intervals": [...]} on stdout
"""

import json
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1])
done = sorted(
    t.datetime_complete
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
)
print(
    json.dumps(
        {"intervals": [(b - a).total_seconds() for a, b in zip(done, done[1:], strict=False)]}
    )
)
