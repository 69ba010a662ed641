"""mlkit: AutoML experiments with a SQL model registry."""

__all__ = ["__version__"]

__version__ = "0.1.0"
