"""`mlkit predict` must stay fast: the client and the package import no TensorFlow."""

from __future__ import annotations

import subprocess
import sys


def test_client_does_not_import_tensorflow() -> None:
    code = (
        "import sys, mlkit.serving, mlkit.serving.client, mlkit.serving.server\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert callable(mlkit.serving.make_server) and callable(mlkit.serving.predict)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
