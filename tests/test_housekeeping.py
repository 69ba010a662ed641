"""Run folders after a run: trimmed to what resume and TensorBoard need, `mlkit runs delete`
and `mlkit runs gc` (issue 19, item 5). Synthetic run folders with real event files; the
registry is the real SQLite one."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from mlkit.config import load_settings
from mlkit.registry import open_store
from mlkit.registry.liveness import this_host
from mlkit.search.run_files import _records, prune


def _run_folder(folder: Path) -> None:
    """Two checkpoints, graph.pbtxt and an event file with a graph and two scalars."""
    folder.mkdir(parents=True)
    for step in (10, 20):
        for suffix in ("index", "meta", "data-00000-of-00001"):
            (folder / f"model.ckpt-{step}.{suffix}").write_bytes(b"x" * 1000)
    (folder / "checkpoint").write_text(
        'model_checkpoint_path: "model.ckpt-20"\nall_model_checkpoint_paths: "model.ckpt-10"\n'
    )
    (folder / "graph.pbtxt").write_text("node {}\n" * 1000)
    writer = EventFileWriter(str(folder / "ensemble" / "t0"))
    writer.add_event(Event(wall_time=1.0, graph_def=b"g" * 50_000))
    for step, loss in ((1, 0.9), (2, 0.5)):
        summary = Summary(value=[Summary.Value(tag="loss", simple_value=loss)])
        writer.add_event(Event(wall_time=1.0 + step, step=step, summary=summary))
    writer.close()


def _scalars(folder: Path) -> list[float]:
    (events,) = folder.rglob("events.out.tfevents.*")
    values = []
    for record in _records(events.read_bytes()):
        event = Event.FromString(record)
        assert not event.HasField("graph_def")
        values += [v.simple_value for v in event.summary.value]
    return values


def test_prune_keeps_the_latest_checkpoint_and_the_scalars(tmp_path):
    folder = tmp_path / "1"
    _run_folder(folder)
    freed = prune(folder, "resume")
    assert freed > 50_000
    assert sorted(p.name for p in folder.glob("model.ckpt-*")) == [
        "model.ckpt-20.data-00000-of-00001", "model.ckpt-20.index", "model.ckpt-20.meta",
    ]  # fmt: skip
    assert not (folder / "graph.pbtxt").exists()
    assert _scalars(folder) == pytest.approx([0.9, 0.5])
    (events,) = folder.rglob("events.out.tfevents.*")
    data = events.read_bytes()  # still valid TFRecord framing: the CRCs TensorBoard checks
    from tensorboard.summary.writer.record_writer import masked_crc32c

    (length,) = struct.unpack_from("<Q", data, 0)
    assert struct.unpack_from("<I", data, 8)[0] == masked_crc32c(data[:8])
    assert struct.unpack_from("<I", data, 12 + length)[0] == masked_crc32c(data[12 : 12 + length])
    assert prune(folder, "events") > 0 and not list(folder.glob("model.ckpt-*"))
    assert _scalars(folder) == pytest.approx([0.9, 0.5])


def _runs(home: Path):
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        finished = store.create_run("iris", spec_text="", params={})
        store.finish_run(finished.id, status="finished")
        failed = store.create_run("iris", spec_text="", params={})
        store.finish_run(failed.id, status="failed", error="interrupted")
        running = store.create_run(
            "iris", spec_text="", params={}, pid=os.getpid(), hostname=this_host()
        )
    for run in (finished, failed, running):
        _run_folder(settings.runs_dir / str(run.id))
    _run_folder(settings.runs_dir / "99")  # no run owns it
    return finished.id, failed.id, running.id


def test_delete_refuses_what_a_run_needs_and_says_why(mlkit_home, cli):
    finished, failed, running = _runs(mlkit_home)
    resumable = cli("runs", "delete", str(failed))
    assert resumable.code == 2
    assert resumable.err.startswith(f"Error: not deleting the files of run {failed}: run {failed}")
    assert "--force" in resumable.err and (mlkit_home / "runs" / str(failed)).is_dir()
    alive = cli("runs", "delete", str(running))
    assert alive.code == 2 and "still training" in alive.err
    assert cli("runs", "delete", str(failed), "--force").code == 0
    done = cli("runs", "delete", str(finished), "--json")
    assert done.code == 0 and json.loads(done.out)["action"] == "deleted"
    assert not (mlkit_home / "runs" / str(finished)).exists()
    shown = json.loads(cli("runs", "show", str(finished), "--json").out)
    assert shown["run"]["id"] == finished  # the record stays


def test_gc_trims_finished_runs_removes_orphans_and_keeps_the_rest(mlkit_home, cli):
    finished, failed, running = _runs(mlkit_home)
    dry = json.loads(cli("runs", "gc", "--dry-run", "--json").out)
    assert {d["action"] for d in dry} == {"trimmed", "kept", "deleted"}
    assert (mlkit_home / "runs" / "99").is_dir()
    result = cli("runs", "gc", "--json")
    assert result.code == 0, result.err
    by_path = {Path(d["path"]).name: d for d in json.loads(result.out)}
    assert by_path[str(finished)]["action"] == "trimmed" and by_path[str(finished)]["bytes_freed"]
    assert by_path[str(failed)]["action"] == "kept" and "resumed" in by_path[str(failed)]["reason"]
    assert by_path[str(running)]["action"] == "kept"
    assert by_path["99"]["action"] == "deleted" and not (mlkit_home / "runs" / "99").exists()
    assert len(list((mlkit_home / "runs" / str(failed)).glob("model.ckpt-*"))) == 6
    table = cli("runs", "gc")
    assert table.code == 0 and "freed" in table.out
