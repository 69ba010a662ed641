"""Monitoring: what the endpoints serve, after deployment.

- ``log``: the prediction log and feedback, written to a warehouse table in the background;
- ``served``: reading the log back (local warehouse, BigQuery, Vertex AI's request-response log);
- ``drift``: served features against the deployed version's training statistics;
- ``live``: live metrics per version from feedback, with confidence intervals;
- ``bandit``: Thompson sampling between deployed versions on feedback rewards;
- ``rules``: the ``[monitoring]`` checks.
"""

__all__: list[str] = []
