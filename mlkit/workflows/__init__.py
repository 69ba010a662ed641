"""The workflows that compose the services: train (and where it runs: ``launch``), promote,
serve. Each reads top to bottom."""

# Nothing is imported from the package itself: each module is used by name.
__all__: list[str] = []
