"""A test-only pause point, for crash tests that kill a real process at a chosen moment.

With ``MLKIT_TEST_PAUSE_AT=<point>`` and ``MLKIT_TEST_PAUSE_FILE=<path>`` in the environment, the
process writes its pid to the file when it reaches ``<point>`` and then sleeps until it is
killed. Points: ``artifact:copied`` (an artifact copied into staging, not yet in place),
``register:before_commit`` (artifact in place, version row written, transaction not committed).
Without the variables this is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pause_point(name: str) -> None:
    if os.environ.get("MLKIT_TEST_PAUSE_AT") != name:
        return
    marker = os.environ.get("MLKIT_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(1)
