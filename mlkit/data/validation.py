"""The data layer's validation errors: each one line, each a DataError (exit code 3) with a hint.

MissingColumnError   a label, key, feature or extra column the spec names is not in the source
FeatureTypeError     a feature's type is not one the loader reads (or holds NaN / non-numbers)
FeatureShapeError    a feature's values per row do not match the shape the spec gives
NullValuesError      a key, label or feature column has NULLs
FeatureNullsError    NULLs in a feature column (numbers: the tabular reader imputes them)
LabelValuesError     labels are not integers 0..K-1 with K >= 2
"""

from __future__ import annotations

from mlkit.errors import DataError


class MissingColumnError(DataError):
    pass


class FeatureTypeError(DataError):
    pass


class FeatureShapeError(DataError):
    """``feature`` and ``found``: the column and the values found in one of its rows, where a
    row's width is what did not match."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        feature: str | None = None,
        found: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.feature = feature
        self.found = found


class NullValuesError(DataError):
    pass


class FeatureNullsError(NullValuesError):
    """NULLs in a feature column the pixel reader reads (the tabular reader imputes them)."""


class LabelValuesError(DataError):
    pass
