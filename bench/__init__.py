"""The benchmark of mlt against the plain-MLflow way (``python -m bench``; see README.md).

Layout: ``cli`` (options) -> ``orchestrate`` (one run: scenarios in order) -> ``record``
(the results, as data) -> ``report`` (the Markdown page). Scenarios live in ``scenarios/``,
one module each, over ``proc`` (process measurement), ``loadgen`` (wrk and a Python client)
and ``stats`` (medians, spreads, ratios, targets). Baseline scripts are real files in
``scripts/``.
"""
