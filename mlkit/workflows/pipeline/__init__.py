"""Pipelines: ingest → validate → train → compare → deploy (→ notify) as one recorded,
resumable run, here (:mod:`.runner`) or on Vertex AI Pipelines (:mod:`.kfp_spec`, :mod:`.vertex`).

- ``spec``: the pipeline file, validated with one line per error
- ``steps``: what each step does, composed from the other workflows
- ``runner``: the steps in order, recorded in the registry, cached and resumable
- ``views``: pipeline runs as commands show them
- ``kfp_spec``: the pipeline as a KFP v2 pipeline spec whose components run ``mlkit pipeline step``
- ``vertex``: submitting that spec as a Vertex AI PipelineJob, or a schedule of it
"""

__all__: list[str] = []  # import the modules themselves; none of them imports TensorFlow
