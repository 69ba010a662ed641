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
    └── ServingError                deploying or predicting failed                   (exit 7)
        ├── EndpointUnavailable     no endpoint is listening where one was expected
        └── InvalidPayload          a prediction request does not fit the model's signature

Each error carries a one-line ``message`` (what was wrong) and an optional ``hint`` (what to do).
The CLI prints ``Error: <message>`` and, on a second line, ``Hint: <hint>``; tracebacks only with
``--verbose``.
"""

from __future__ import annotations


class MlkitError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class SpecError(MlkitError):
    exit_code = 2


class UsageError(MlkitError):
    exit_code = 2


class DataError(MlkitError):
    exit_code = 3


class TableNotFound(DataError):
    pass


class SearchError(MlkitError):
    exit_code = 4


class RegistryError(MlkitError):
    exit_code = 5


class ModelNotFound(RegistryError):
    pass


class VersionNotFound(RegistryError):
    pass


class ArtifactError(RegistryError):
    pass


class TrafficConflict(RegistryError):
    pass


class PromotionRefused(MlkitError):
    exit_code = 6


class ServingError(MlkitError):
    exit_code = 7


class EndpointUnavailable(ServingError):
    pass


class InvalidPayload(ServingError):
    pass
