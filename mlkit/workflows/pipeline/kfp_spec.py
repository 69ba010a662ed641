"""A pipeline file as a KFP v2 pipeline spec (YAML), compiled with the ``kfp`` SDK.

Each step is a container component running ``mlkit pipeline step NAME`` in the mlkit image
(``MLKIT_VERTEX_IMAGE``), or, given staged ``packages`` (``gs://`` URIs: mlkit's wheel first), in
Google's prebuilt TensorFlow 2.15 image after ``pip install``-ing them from the Cloud Storage FUSE
mount (``/gcs/BUCKET/...``) that Vertex AI Pipelines gives every component; on the pipeline file
and the experiment file it is given as pipeline parameters (their text). ``begin`` starts a
pipeline run in the shared registry (``MLKIT_REGISTRY_URL``, forwarded with ``MLKIT_WAREHOUSE`` and
``MLKIT_ARTIFACTS``) and passes its id on; every later step records itself in that run, reads the
outputs of the steps before it from the registry, and passes the id on; ``end`` notifies and
records how it ended. The conditions and the cache are mlkit's own (the step decides, as it does
locally), so KFP's task cache is off.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.errors import UsageError
from mlkit.workflows.pipeline.spec import LoadedPipeline, load_pipeline

__all__ = ["CompiledPipeline", "FORWARDED_ENV", "compile_pipeline", "component_script"]

FORWARDED_ENV = ("MLKIT_WAREHOUSE", "MLKIT_REGISTRY_URL", "MLKIT_ARTIFACTS")
WORKDIR = "/tmp/mlkit-pipeline"


@dataclass(frozen=True)
class CompiledPipeline:
    path: Path  # the pipeline spec (YAML)
    name: str  # the KFP pipeline's name (the pipeline file's)
    tasks: tuple[str, ...]  # the components, in order
    parameters: dict[str, str]  # pipeline parameter -> value (the two files' text)


def component_script(step: str, packages: Sequence[str] = ()) -> str:
    """The shell line a component runs: install ``packages`` when given (``gs://`` URIs, read
    through the ``/gcs`` mount), write both files, then run the step. Its arguments: the pipeline
    file's text, the experiment file's text, the run id (empty for ``begin``) and where KFP wants
    the run id passed on."""
    install = ""
    if packages:
        mounted = " ".join(shlex.quote("/gcs/" + p.removeprefix("gs://")) for p in packages)
        install = f"pip install --quiet --no-warn-script-location {mounted} && "
    return install + (
        f'mkdir -p {WORKDIR} && printf "%s" "$0" > {WORKDIR}/pipeline.toml && '
        f'printf "%s" "$1" > {WORKDIR}/experiment.toml && '
        f"mlkit pipeline step {step} {WORKDIR}/pipeline.toml "
        f'--experiment {WORKDIR}/experiment.toml ${{2:+--run "$2"}} --write-run "$3"'
    )


def compile_pipeline(
    path: Path,
    output: Path,
    *,
    image: str | None = None,
    env: dict[str, str] | None = None,
    packages: Sequence[str] = (),
) -> CompiledPipeline:
    """Validate the pipeline file, then write its KFP v2 pipeline spec to ``output``; with
    ``packages`` (the ``gs://`` URIs of mlkit's staged wheel, then AdaNet's), ``image`` is one
    without mlkit (Google's prebuilt one) and each component installs them first."""
    loaded = load_pipeline(path)
    image = image or os.environ.get("MLKIT_VERTEX_IMAGE", "")
    if not image:
        raise UsageError(
            "compiling a pipeline needs the image its components run in: set MLKIT_VERTEX_IMAGE",
            hint="an image with mlkit installed, e.g. us-docker.pkg.dev/my-project/mlkit/train:1;"
            " `mlkit pipeline run --backend vertex` needs none (docs/pipelines.md, 'Vertex AI')",
        )
    source = os.environ if env is None else env
    forwarded = {name: source[name] for name in FORWARDED_ENV if source.get(name)}
    # Where the steps ran, for the runs they register (mlkit/registry/environment.py).
    forwarded["MLKIT_VERTEX_RUN_IMAGE"] = image
    if packages:
        forwarded["MLKIT_VERTEX_RUN_PACKAGE"] = packages[0]
    tasks = ("begin", *loaded.spec.steps, "end")
    parameters = {
        "pipeline_toml": loaded.text,
        "experiment_toml": loaded.experiment_path.read_text(encoding="utf-8"),
    }
    func = _pipeline_function(loaded, tasks, image, forwarded, packages)
    from kfp import compiler

    output.parent.mkdir(parents=True, exist_ok=True)
    # The files' text goes in at submission (parameter_values), not as defaults: KFP writes
    # defaults into a YAML comment that multi-line text breaks for its own loader.
    compiler.Compiler().compile(func, str(output))
    return CompiledPipeline(output, loaded.spec.pipeline.name, tasks, parameters)


def _component(step: str, image: str, packages: Sequence[str]) -> Any:
    from kfp import dsl

    script = component_script(step, packages)

    def component(pipeline_toml: str, experiment_toml: str, run_id: str, next_run: str) -> Any:
        return dsl.ContainerSpec(
            image=image,
            command=["/bin/sh", "-c", script],
            args=[pipeline_toml, experiment_toml, run_id, next_run],
        )

    # KFP reads the signature: the run id passed on is an output parameter (a file KFP names).
    component.__annotations__ = {
        "pipeline_toml": str, "experiment_toml": str, "run_id": str,
        "next_run": dsl.OutputPath(str),
    }  # fmt: skip
    component.__name__ = f"mlkit_{step}"
    return dsl.container_component(component)


def _pipeline_function(
    loaded: LoadedPipeline,
    tasks: tuple[str, ...],
    image: str,
    env: dict[str, str],
    packages: Sequence[str] = (),
) -> Any:
    from kfp import dsl

    components = {step: _component(step, image, packages) for step in tasks}

    def pipeline(pipeline_toml: str, experiment_toml: str) -> None:
        run_id: Any = ""
        for step in tasks:
            task = components[step](
                pipeline_toml=pipeline_toml, experiment_toml=experiment_toml, run_id=run_id
            )
            task.set_caching_options(False)  # mlkit's own cache decides (the registry's)
            for name, value in env.items():
                task.set_env_variable(name, value)
            run_id = task.outputs["next_run"]

    # This module's annotations are strings (``from __future__``); KFP wants the types.
    pipeline.__annotations__ = {"pipeline_toml": str, "experiment_toml": str}
    info = loaded.spec.pipeline
    return dsl.pipeline(name=info.name, description=info.description or None)(pipeline)
