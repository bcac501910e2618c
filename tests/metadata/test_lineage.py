"""Lineage follows data flow, to a depth, and a run stands for its steps."""

from __future__ import annotations

import pytest

from aimops.errors import InvalidInputError
from aimops.metadata import AimStore
from aimops.metadata.recording import (
    record_artifact,
    record_dataset,
    record_io,
    record_model_version,
    record_run,
    record_step,
)


@pytest.fixture
def pipeline(store: AimStore) -> dict[str, str]:
    """raw → prep → features → train → model v1 → evaluation; structure edges on the side."""
    with store.transaction() as tx:
        run = record_run(tx, orchestrator="python", pipeline="churn", run_id="r1")
        prep, train = record_step(tx, run, "prep"), record_step(tx, run, "train")
        raw = record_dataset(tx, "raw")
        features = record_dataset(tx, "features")
        report = record_artifact(tx, "report.html", kind="report")
        record_io(tx, prep, consumed=[raw], produced=[features])
        record_io(tx, train, consumed=[features], produced=[report])
        version = record_model_version(tx, "churn", 1, produced_by=train)
        evaluation = "urn:aim:evaluation:churn/1/holdout"
        tx.put_entity(evaluation)
        tx.put_edge(evaluation, "evaluates", version)
        other = record_run(tx, orchestrator="python", pipeline="other", run_id="r9")
        unrelated = record_step(tx, other, "load")
        record_io(tx, unrelated, consumed=[record_dataset(tx, "elsewhere")])
    names = ("run", "prep", "train", "raw", "features", "report", "version", "evaluation")
    values = (run, prep, train, raw, features, report, version, evaluation)
    return {name: str(value) for name, value in zip(names, values, strict=True)}


def _urns(graph) -> set[str]:  # type: ignore[no-untyped-def]
    return {node.urn for node in graph.nodes}


def test_downstream_of_a_dataset_reaches_the_evaluation(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    graph = store.lineage(pipeline["raw"], direction="downstream", depth=10)
    assert _urns(graph) == {
        pipeline[name]
        for name in ("raw", "prep", "features", "train", "report", "version", "evaluation")
    }
    depths = {node.urn: node.depth for node in graph.nodes}
    assert depths[pipeline["raw"]] == 0
    assert depths[pipeline["prep"]] == 1
    assert depths[pipeline["evaluation"]] == 5  # raw→prep→features→train→v1→eval
    assert graph.nodes[0].urn == pipeline["raw"]
    relations = {(e.src, e.relation, e.dst) for e in graph.edges}
    assert (pipeline["prep"], "consumed", pipeline["raw"]) in relations
    assert (pipeline["version"], "producedBy", pipeline["train"]) in relations
    assert all(e.relation not in {"partOf", "versionOf"} for e in graph.edges)


def test_depth_limits_the_walk(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    graph = store.lineage(pipeline["raw"], direction="downstream", depth=2)
    assert _urns(graph) == {pipeline["raw"], pipeline["prep"], pipeline["features"]}
    assert store.lineage(pipeline["raw"], direction="downstream", depth=0).nodes[0].depth == 0


def test_upstream_of_a_model_version_reaches_the_raw_data(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    graph = store.lineage(pipeline["version"], direction="upstream", depth=10)
    assert _urns(graph) == {
        pipeline[name] for name in ("version", "train", "features", "prep", "raw")
    }


def test_a_run_stands_for_its_steps(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    both = store.lineage(pipeline["run"], depth=1)
    assert {pipeline[n] for n in ("raw", "features", "report", "version")} <= _urns(both)
    assert (pipeline["prep"], "partOf", pipeline["run"]) in {
        (e.src, e.relation, e.dst) for e in both.edges
    }
    assert "urn:aim:dataset:elsewhere" not in _urns(both)
    up = store.lineage(pipeline["run"], direction="upstream", depth=1)
    assert pipeline["raw"] in _urns(up) and pipeline["report"] not in _urns(up)


def test_both_directions_by_default(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    graph = store.lineage(pipeline["features"], depth=1)
    assert _urns(graph) == {pipeline["features"], pipeline["prep"], pipeline["train"]}


def test_cycles_terminate(store: AimStore) -> None:
    with store.transaction() as tx:
        run = record_run(tx, orchestrator="python", pipeline="loop", run_id="1")
        step = record_step(tx, run, "refine")
        data = record_dataset(tx, "labels")
        record_io(tx, step, consumed=[data], produced=[data])
    graph = store.lineage(data, direction="downstream", depth=50)
    assert _urns(graph) == {str(data), str(step)}


@pytest.mark.parametrize(("direction", "depth"), [("sideways", 3), ("both", -1), ("both", 51)])
def test_bad_lineage_arguments(store: AimStore, pipeline, direction, depth) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        store.lineage(pipeline["raw"], direction=direction, depth=depth)


def test_to_dict_is_json_ready(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    import json

    data = store.lineage(pipeline["raw"], direction="downstream", depth=2).to_dict()
    assert json.loads(json.dumps(data))["nodes"][0] == {
        "urn": pipeline["raw"],
        "type": "dataset",
        "depth": 0,
    }
    assert set(data["edges"][0]) == {"src", "relation", "dst"}


def test_closure_without_edges_has_the_same_nodes(store: AimStore, pipeline) -> None:  # type: ignore[no-untyped-def]
    full = store.lineage(pipeline["raw"], direction="downstream", depth=10)
    closure = store.lineage(pipeline["raw"], direction="downstream", depth=10, edges=False)
    assert closure.nodes == full.nodes
    assert closure.edges == [] and full.edges
    assert store.lineage(pipeline["run"], depth=1, edges=False).edges == []
