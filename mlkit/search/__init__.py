"""The AdaNet search: spec and arrays in, SavedModel and report out (imports TensorFlow)."""
