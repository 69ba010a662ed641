"""The AdaNet search: spec and arrays in, SavedModel and report out (imports TensorFlow)."""

# Nothing is imported from the package itself: each module is used by name.
__all__: list[str] = []
