"""Command-line interface. Importing it must not import TensorFlow.

``app`` and ``main`` are loaded on first use: the installed script tries the two hot listings
(``fast``) before typer and every command module are imported.
"""

import sys
import warnings

from mlkit.config import quiet_tensorflow

quiet_tensorflow()  # before any command imports TensorFlow
# requests tries urllib3's optional SOCKS support when it is imported and warns when PySocks is
# absent: a notice about a proxy kind mlkit does not use, printed into a command's output.
warnings.filterwarnings("ignore", message="SOCKS support in urllib3", module="urllib3")

__all__ = ["app", "main", "run"]


def __getattr__(name: str):
    if name in ("app", "main"):
        import mlkit.cli.app as app_module

        # As the eager ``from mlkit.cli.app import app, main`` did: the typer app, not the module.
        globals().update(app=app_module.app, main=app_module.main)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    from mlkit.cli.argv import normalize
    from mlkit.cli.fast import run_fast

    code = run_fast(normalize(sys.argv[1:]))
    if code is None:
        from mlkit.cli.app import main

        code = main()
    sys.exit(code)
