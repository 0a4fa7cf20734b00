"""Installed versions of the distributions named on the command line, as JSON (missing: null)."""

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


found = {name: installed(name) for name in sys.argv[1:]}
found["python"] = platform.python_version()
json.dump(found, sys.stdout)
