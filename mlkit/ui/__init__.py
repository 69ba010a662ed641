"""The web dashboard (``mlkit ui``): read-only pages over the registry, rendered on the server.

Presentation only, like ``mlkit.cli``: each page calls one read model of
``mlkit.workflows.ui_views`` (or ``views``) and renders it as HTML, with charts as inline SVG and
one small script of its own (``static/ui.js``) for hover values and toggles. Every page answers
``?format=json`` with its read model, and ``?format=json&table=NAME`` with one of its tables.
Nothing here writes to the registry, and nothing imports TensorFlow.
"""

__all__: list[str] = []  # the app is mlkit.ui.app.make_app, the server mlkit.ui.server.serve
