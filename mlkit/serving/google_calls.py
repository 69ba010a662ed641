"""One way to call a Google Cloud SDK from the serving targets (Vertex AI, Cloud Run).

``GoogleCalls(service, setup_hint).call(action, fn, ...)`` runs one SDK call and turns what the
SDK raises into a one-line ``ServingError`` that names the action and the service: missing
credentials (with the command that sets them up), a refusal by the API (its first line, without
the REST call's URL) and an unreachable host (with the setup page's hint).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from mlkit.errors import ServingError

T = TypeVar("T")

_REST_PREFIX = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) \S+: ")


def one_line(exc: BaseException) -> str:
    """The first line of an SDK error's message, without the REST call's method and URL."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    line = str(message).strip().splitlines()[0]
    return _REST_PREFIX.sub("", line)


class GoogleCalls:
    """SDK calls to one Google service, ``service`` as messages name it (e.g. ``Cloud Run``)."""

    def __init__(self, service: str, setup_hint: str) -> None:
        self.service = service
        self.setup_hint = setup_hint

    def call(self, action: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)``; a failure is a ServingError "cannot ACTION ...", one line."""
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc

        try:
            return fn(*args, **kwargs)
        except auth_exc.DefaultCredentialsError as exc:
            raise ServingError(
                f"cannot {action}: no Google Cloud credentials",
                hint="run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS",
            ) from exc
        except (gexc.GoogleAPIError, ValueError, RuntimeError) as exc:
            raise ServingError(f"cannot {action} on {self.service}: {one_line(exc)}") from exc
        except OSError as exc:
            raise ServingError(
                f"cannot {action}: {self.service} is unreachable ({one_line(exc)})",
                hint=self.setup_hint,
            ) from exc
