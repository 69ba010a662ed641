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
    _exit(code)


def _exit(code: int) -> None:
    """Leave with ``code``. After a command that loaded TensorFlow, the interpreter's teardown
    (freeing every object of the search's graphs one at a time) took 3-6 s on 2 cores after the
    answer was printed (``bench/overhead.py``). The exit handlers run and the streams are flushed
    as on a normal exit (every file and database write of a command is closed by then); only
    that teardown is skipped."""
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    import atexit
    import os
    import threading

    # As the interpreter's exit does: the threading module's exit hooks first (they tell idle
    # ThreadPoolExecutor workers to stop: joined before them, a worker waits for work forever
    # and so does the exit), then every non-daemon thread joined.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    else:  # pragma: no cover - CPython has it
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
