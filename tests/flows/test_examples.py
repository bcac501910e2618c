"""The example Prefect flows run as a user runs them, and are captured."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples" / "flows"


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_training_flow_trains_registers_evaluates_and_is_captured(
    aim_home: Path, store: Any, read: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # the flow points MLflow at this test's store: put back what the process had afterwards
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    monkeypatch.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
    example = load("train_flow")
    summary = example.train_model_prefect()
    with store() as s:
        run = read.only_run(s, "train_model_prefect")
        steps = read.steps(s, run)
        info = s.get_aspect(run, "runInfo").value
        evaluations = s.related(summary["model_version"], "evaluates", incoming=True)
        train = f"urn:aim:step:{run.split(':', 3)[3]}/train"
        metrics = s.get_aspect(train, "metrics").value
    assert summary["run"] == run and info["status"] == "success"
    assert sorted(steps) == ["evaluate", "load_data", "register_model", "train", "validate_data"]
    assert steps["register_model"]["made"] == [summary["model_version"]]
    assert [e.urn for e in evaluations] == [summary["evaluation"]]
    assert metrics["test_auroc"] > 0.9
