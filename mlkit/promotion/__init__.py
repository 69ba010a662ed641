"""Champion/challenger: evaluate versions on the same data, apply the experiment's promotion policy
and assemble the verdict.

    evaluate         run a SavedModel over the rows, timing each batch      (imports TensorFlow)
    metrics          accuracy, log loss, AUC, per-class recall, RMSE, MAE; overall and per slice
    stats            McNemar's test and paired bootstrap intervals
    smoke            sample requests through the serving signature: shape, range, latency
    policy           every check of the [promotion] section, pass / fail / skip with its reason
    verdict          all of it into one record
    plot             the verdict as a picture

The rows come from the data layer (``mlkit.data.evaluation.EvaluationData``: the experiment's
test split or a table, read by the loader with the slice column and row keys). Nothing here
touches the registry or the endpoint; ``mlkit.workflows.promote`` does.
"""

__all__: list[str] = []  # each module is used by name
