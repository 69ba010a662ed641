"""What differs between the Pythons mlkit runs on: 3.11, and 3.10 (Google's prebuilt TensorFlow
2.15 training containers, where ``mlkit train --backend vertex`` runs without an own image).

Import ``tomllib`` from here, never the standard library's directly: on 3.10 it is ``tomli``
(the same parser, a dependency only there). tests/test_python310.py keeps 3.11-only names out.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
