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
    assert summary["evaluation"] == f"urn:aim:evaluation:{run.split(':', 3)[3]}/evaluate"
    assert metrics["test_auroc"] > 0.9
    # the evaluate step is aimops' evaluate_model: its artifacts are in Prefect's UI
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_run_id = run.rsplit("/", 1)[1]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    key = "aimops-evaluation-breast-cancer-classifier"
    assert set(by_key) == {key, f"{key}-table", f"{key}-link"}
    assert "**Verdict: pass**" in by_key[key].data and "auroc" in by_key[key].data
