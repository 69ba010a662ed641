"""Every error mlkit reports to a user, in one hierarchy.

    MlkitError                      exit 1 unless a subclass says otherwise
    ├── SpecError                   an experiment file is missing or invalid         (exit 2)
    ├── UsageError                  a command-line argument is invalid               (exit 2)
    ├── DataError                   a warehouse, table or dataset problem            (exit 3)
    │   └── TableNotFound           the table named by a source does not exist
    ├── SearchError                 training, evaluation or export failed            (exit 4)
    ├── RegistryError               the registry could not be read or written        (exit 5)
    │   ├── ModelNotFound           no model of that name
    │   ├── VersionNotFound         the model has no such version
    │   ├── ArtifactError           a version's artifact is missing or corrupt
    │   └── TrafficConflict         what serves changed while a traffic change was prepared
    ├── PromotionRefused            the candidate did not win against the deployed version (exit 6)
    ├── ServingError                deploying or predicting failed                   (exit 7)
    │   ├── EndpointUnavailable     no endpoint is listening where one was expected
    │   └── InvalidPayload          a prediction request does not fit the model's signature
    ├── DriftDetected               `mlkit data drift` flagged drift                  (exit 8)
    └── MonitoringAlert             a deployed model broke a [monitoring] rule        (exit 9)

Each error carries a one-line ``message`` (what was wrong) and an optional ``hint`` (what to do).
The CLI prints ``Error: <message>`` and, on a second line, ``Hint: <hint>``; tracebacks only with
``--verbose``.

Exit codes are mapped in one place, :data:`EXIT_CODES` (the table of docs/cli.md, "Exit codes"),
read by :func:`exit_code`: an error takes the code of its nearest class in the table. A new error
class is a subclass of the one whose code it should have; it never sets a code of its own.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "INTERRUPTED",
    "INVALID_INPUT",
    "UNEXPECTED",
    "ArtifactError",
    "DataError",
    "DriftDetected",
    "EndpointUnavailable",
    "InvalidPayload",
    "MlkitError",
    "ModelNotFound",
    "MonitoringAlert",
    "PromotionRefused",
    "RegistryError",
    "SearchError",
    "ServingError",
    "SpecError",
    "TableNotFound",
    "UsageError",
    "VersionNotFound",
    "exit_code",
]


class MlkitError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    @property
    def exit_code(self) -> int:
        """The code the CLI exits with: :func:`exit_code`."""
        return exit_code(self)


class SpecError(MlkitError):
    pass


class UsageError(MlkitError):
    pass


class DataError(MlkitError):
    pass


class TableNotFound(DataError):
    pass


class SearchError(MlkitError):
    pass


class RegistryError(MlkitError):
    pass


class ModelNotFound(RegistryError):
    pass


class VersionNotFound(RegistryError):
    pass


class ArtifactError(RegistryError):
    pass


class TrafficConflict(RegistryError):
    pass


class PromotionRefused(MlkitError):
    pass


class ServingError(MlkitError):
    pass


class EndpointUnavailable(ServingError):
    pass


class InvalidPayload(ServingError):
    pass


class DriftDetected(MlkitError):
    """``mlkit data drift`` flagged drift (a finding, not a fault: ``--no-fail-on-drift`` only
    reports it)."""


class MonitoringAlert(MlkitError):
    """``mlkit monitor NAME --check``: at least one rule of ``[monitoring]`` is broken."""


UNEXPECTED = 1  # an exception that is no MlkitError: a bug
INVALID_INPUT = 2  # a spec file, an argument (typer's own usage errors too), a payload file
INTERRUPTED = 130  # Ctrl-C

# error class -> exit code; the one table (docs/cli.md, "Exit codes", lists the same).
EXIT_CODES: dict[type[BaseException], int] = {
    MlkitError: UNEXPECTED,
    SpecError: INVALID_INPUT,
    UsageError: INVALID_INPUT,
    DataError: 3,
    SearchError: 4,
    RegistryError: 5,
    PromotionRefused: 6,
    ServingError: 7,
    DriftDetected: 8,
    MonitoringAlert: 9,
    KeyboardInterrupt: INTERRUPTED,
}


def exit_code(error: BaseException) -> int:
    """The exit code for ``error``: that of the nearest of its classes in :data:`EXIT_CODES`,
    else :data:`UNEXPECTED`."""
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return UNEXPECTED
