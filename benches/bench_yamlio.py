"""Benchmarks of the ``yamlio`` trio: ``[py]`` and ``[c]`` side by side, PyYAML as the baseline.

Run with ``python -m pytest benches/bench_yamlio.py --benchmark-only``. Each group holds one
operation: trackstore's two twins and PyYAML's loaders/dumpers as MLflow calls them
(``CSafeLoader``/``CSafeDumper`` when PyYAML has LibYAML, else the pure ``Safe*`` classes).
The documents are what MLflow writes for a run and for an experiment with tags.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from _data import twin

TS0 = 1_700_000_000_000


def run_meta(index: int = 0) -> dict[str, Any]:
    run_id = f"{0x68659E3DE6E74B5A9EE3F4FEBF9F14E0 + index:032x}"
    experiment_id = "214864545278912664"
    return {
        "artifact_uri": f"file:///home/alice/projects/vision/mlruns/{experiment_id}/{run_id}/artifacts",
        "end_time": TS0 + 30_000 + index,
        "entry_point_name": "",
        "experiment_id": experiment_id,
        "lifecycle_stage": "active",
        "run_id": run_id,
        "run_name": f"dazzling-shrew-{index}",
        "run_uuid": run_id,
        "source_name": "",
        "source_type": 4,
        "source_version": "",
        "start_time": TS0 + index,
        "status": 3,
        "tags": [],
        "user_id": "alice",
    }


def experiment_meta() -> dict[str, Any]:
    return {
        "artifact_location": "file:///home/alice/projects/vision/mlruns/214864545278912664",
        "creation_time": TS0,
        "experiment_id": "214864545278912664",
        "last_update_time": TS0 + 5,
        "lifecycle_stage": "active",
        "name": "baseline 实验 λ",
        "tags": {
            "mlflow.note.content": "Baseline with the frozen backbone",
            "priority": "1",
            "team": "vision",
        },
    }


# Written as MLflow writes them (and as both twins do: the bytes are the same).
RUN_META_YAML = (
    b"artifact_uri: file:///home/alice/projects/vision/mlruns/214864545278912664/"
    b"68659e3de6e74b5a9ee3f4febf9f14e0/artifacts\n"
    b"end_time: 1700000030000\n"
    b"entry_point_name: ''\n"
    b"experiment_id: '214864545278912664'\n"
    b"lifecycle_stage: active\n"
    b"run_id: 68659e3de6e74b5a9ee3f4febf9f14e0\n"
    b"run_name: dazzling-shrew-0\n"
    b"run_uuid: 68659e3de6e74b5a9ee3f4febf9f14e0\n"
    b"source_name: ''\n"
    b"source_type: 4\n"
    b"source_version: ''\n"
    b"start_time: 1700000000000\n"
    b"status: 3\n"
    b"tags: []\n"
    b"user_id: alice\n"
)
EXPERIMENT_META_YAML = (
    b"artifact_location: file:///home/alice/projects/vision/mlruns/214864545278912664\n"
    b"creation_time: 1700000000000\n"
    b"experiment_id: '214864545278912664'\n"
    b"last_update_time: 1700000000005\n"
    b"lifecycle_stage: active\n"
    b"name: baseline \xe5\xae\x9e\xe9\xaa\x8c \xce\xbb\n"
    b"tags:\n"
    b"  mlflow.note.content: Baseline with the frozen backbone\n"
    b"  priority: '1'\n"
    b"  team: vision\n"
)


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return twin("yamlio", request.param)


@pytest.fixture(params=["CSafeLoader", "SafeLoader"])
def pyyaml_loader(request: pytest.FixtureRequest) -> Any:
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, request.param, None)
    if loader is None:
        pytest.skip(f"PyYAML without {request.param}")
    return lambda data: yaml.load(data, Loader=loader)


@pytest.fixture(params=["CSafeDumper", "SafeDumper"])
def pyyaml_dumper(request: pytest.FixtureRequest) -> Any:
    yaml = pytest.importorskip("yaml")
    dumper = getattr(yaml, request.param, None)
    if dumper is None:
        pytest.skip(f"PyYAML without {request.param}")

    def dump(data: Any) -> bytes:
        text: str = yaml.dump(
            data, Dumper=dumper, default_flow_style=False, allow_unicode=True, sort_keys=True
        )
        return text.encode("utf-8")

    return dump


@pytest.mark.benchmark(group="load run meta.yaml")
def test_load_run_meta(benchmark: Any, impl: ModuleType) -> None:
    assert benchmark(impl.load, RUN_META_YAML) == run_meta()


@pytest.mark.benchmark(group="load run meta.yaml")
def test_load_run_meta_pyyaml(benchmark: Any, pyyaml_loader: Any) -> None:
    assert benchmark(pyyaml_loader, RUN_META_YAML) == run_meta()


@pytest.mark.benchmark(group="load experiment meta.yaml")
def test_load_experiment_meta(benchmark: Any, impl: ModuleType) -> None:
    assert benchmark(impl.load, EXPERIMENT_META_YAML) == experiment_meta()


@pytest.mark.benchmark(group="load experiment meta.yaml")
def test_load_experiment_meta_pyyaml(benchmark: Any, pyyaml_loader: Any) -> None:
    assert benchmark(pyyaml_loader, EXPERIMENT_META_YAML) == experiment_meta()


@pytest.mark.benchmark(group="dump run meta")
def test_dump_run_meta(benchmark: Any, impl: ModuleType) -> None:
    assert benchmark(impl.dump, run_meta()) == RUN_META_YAML


@pytest.mark.benchmark(group="dump run meta")
def test_dump_run_meta_pyyaml(benchmark: Any, pyyaml_dumper: Any) -> None:
    assert benchmark(pyyaml_dumper, run_meta()) == RUN_META_YAML
