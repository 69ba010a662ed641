"""mlkit: AutoML experiments with a SQL model registry."""

__version__ = "0.1.0"
