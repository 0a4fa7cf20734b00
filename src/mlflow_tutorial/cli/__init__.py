"""The ``mlt`` command line: parse options, make one library call, render the result.

One module per part of the lifecycle (``tracking``: train and compare; ``registry``: register
and models; ``models``: serve and predict; ``ui``), each registering its commands on the one
Typer app; ``common`` holds the shared options and the end-of-command policy.
"""

from __future__ import annotations

import contextlib
import sys

from . import models, registry, tracking, tune, ui  # noqa: F401  (each registers its commands)
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app(args=models.spark_master_default(sys.argv[1:]))
    finally:
        # Once a command is done, tearing down the objects of MLflow, scikit-learn and pandas
        # costs the interpreter a second or more. Their work is flushed by now (runs are
        # committed, output written), so exclude them from the final garbage collection.
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`mlt ... | head`)
            sys.stdout.flush()
        import gc

        gc.freeze()


if __name__ == "__main__":
    main()
