"""mlkit: AutoML experiments with a SQL model registry."""
