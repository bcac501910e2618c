"""Every public name of ``aimops``, ``aimops.metadata`` and ``aimops.monitors``, driven with
hostile input (issue 13): text with lone surrogates, NUL and control characters, empty and very
long text; NaN, infinities, huge and negative numbers; wrong shapes, lengths and empty arrays;
wrong types (None, dicts, bytes); pandas frames and series of odd dtypes.

The contract, :func:`assert_contract`: a call gives a correct result or raises an
:class:`~aimops.errors.AimopsError` that says something; never a foreign exception (TypeError,
KeyError, a SQLAlchemy, numpy or pandas error, UnicodeEncodeError) and never a NaN or an
infinity where a number was promised (a result's metrics, a ``to_dict()`` document, which must
also be JSON).

:data:`CASES` is the table: for each exported object, what is made hostile and how it is
called. :func:`test_every_public_name_is_driven` fails when a facade gains a name that no case
drives (or that :data:`NOT_DRIVEN` does not explain). A case that meets a defect in a module
another engineer owns is ``xfail(strict=True)`` with the module and the defect in its reason:
it turns XPASS (red) once that is fixed, and the mark comes off. Store cases run on an
in-memory SQLite store here and again, fewer examples each, on a fresh PostgreSQL database
(skipped without a server).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import math
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import aimops
import aimops.metadata as metadata
import aimops.monitors as monitors
from aimops.errors import AimopsError
from aimops.metadata import AimStore

FACADES = ("aimops", "aimops.metadata", "aimops.monitors")

# -- hostile values ---------------------------------------------------------------------------

SURROGATES = ["\ud800", "a\udfffb", "\udc80x"]
NASTY_TEXTS = [
    "", " ", "\x00", "a\x00b", "\x01\x1b[31m\x7f", "\n\t", "x" * 5000, "é/ü", "a/b", "/", "%",
    "%00", "%ED%A0%80", "\u202e", "urn:aim:dataset:d", *SURROGATES,
]  # fmt: skip
WRONG_TYPES = [
    None, {}, [], (), b"bytes", bytearray(b"x"), 3, -1, 1.5, True, object(), ["a"], {"a": 1},
    {"a"}, np.int64(3), np.array([1, 2]), pd.Series([1.0]),
]  # fmt: skip
NUMBERS = [
    math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0, -1, 2**63, -(2**64), 10**30,
    np.float64("nan"), np.float32(1.5), np.int64(-5), True,
]  # fmt: skip

texts = st.sampled_from(NASTY_TEXTS) | st.text(st.characters(exclude_categories=()), max_size=12)
numbers = st.sampled_from(NUMBERS) | st.floats() | st.integers()
hostile = st.sampled_from(NASTY_TEXTS + WRONG_TYPES + NUMBERS) | texts | numbers


def vary(valid: Mapping[str, Any], *names: str, **strategies: Any) -> st.SearchStrategy[Any]:
    """``valid`` keyword arguments with one of them hostile: ``names`` take any hostile
    value, ``strategies`` their own."""
    chosen = {**dict.fromkeys(names, hostile), **strategies}
    keys = sorted(chosen)
    return st.sampled_from(keys).flatmap(
        lambda key: chosen[key].map(lambda value: {**valid, key: value})
    )


ODD_ARRAYS = [
    np.array([]), np.zeros((0, 2)), np.zeros((2, 2)), np.zeros((2, 2, 1)), np.float64(0.5),
    np.array([1 + 1j, 0]), np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"),
    np.array([1, 2], dtype="timedelta64[s]"), np.array([1, "a"], dtype=object),
    np.array([None, 1], dtype=object), np.array(["0", "1"]), np.array([b"0", b"1"]),
    np.array([[0], [1]], dtype=object), pd.Series([0, 1, None, 1], dtype="Int64"),
    pd.Series([0.1, None, 0.9, 0.2], dtype="Float64"), pd.Series(["a", "b"], dtype="category"),
    pd.Series([True, None], dtype="boolean"), pd.Series(pd.to_timedelta([1, 2], unit="s")),
    pd.DataFrame({"a": [0, 1]}), pd.DataFrame({"a": [0, 1], "b": [1, 0]}),
    [[0.2, 0.8]], [0, 1, None], [math.nan, 0.5], [math.inf, 0.5], [0.5] * 3, [0, 1] * 3,
    [1e308, -1e308, 0.0, 1.0], [5e-324, 0.0, 1.0, 1.0], [[1], [0]], ["\ud800", "a"],
    [{}, []], [b"x", b"y"], [True, False, True, False],
]  # fmt: skip
arrays = (
    st.sampled_from(ODD_ARRAYS)
    | st.lists(numbers, max_size=6)
    | st.lists(st.sampled_from([0, 1, 0.5, -1, 2, None, "1", math.nan]), max_size=6)
    | hostile
)


def frames(column: str = "a", other: str = "b", *, others: bool = True) -> st.SearchStrategy[Any]:
    """DataFrames of odd shapes and dtypes (columns ``column`` and ``other``), and (unless
    ``others`` is False) values that are not frames."""
    odd_columns = [
        [], [math.nan] * 4, [None] * 4, [math.inf, -math.inf, 1e308, -1e308], [1 + 1j] * 4,
        ["\ud800", "a\x00", "", "x" * 500], [b"x"] * 4, [{}, [], (), set()],
        pd.array([1, None, 3, 4], dtype="Int64"), pd.Categorical(["x", "y", "x", "z"]),
        pd.to_datetime(["2024-01-01"] * 4), pd.to_timedelta([1, 2, 3, 4], unit="s"),
        [True, False, None, True], [1, "a", 2.5, None], [5e-324, 0.0, -0.0, 1.0],
    ]  # fmt: skip
    built = st.builds(
        lambda a, b, length: pd.DataFrame({column: _sized(a, length), other: _sized(b, length)}),
        st.sampled_from(odd_columns),
        st.sampled_from(odd_columns),
        st.sampled_from([0, 1, 4]),
    )
    shapes = st.sampled_from(
        [pd.DataFrame(), pd.DataFrame({column: []}), pd.DataFrame(index=[1, 2]),
         pd.DataFrame([[1, 2]], columns=[column, column]), pd.DataFrame({0: [1.0], None: [2]})]
    )  # fmt: skip
    return built | shapes | hostile if others else built | shapes


def _holds_surrogates(frame: pd.DataFrame) -> bool:
    return any(isinstance(v, str) and v in SURROGATES for v in frame.to_numpy().ravel())


def _sized(values: Any, length: int) -> list[Any]:
    values = list(values)
    return (values * (length // max(len(values), 1) + 1))[:length] if values else [None] * length


datetimes = st.datetimes(timezones=st.none() | st.just(dt.UTC))

# -- the world the store cases run in -----------------------------------------------------------


@dataclass
class World:
    """A store with a few records, a folder, and real results to record and alter."""

    store: AimStore
    folder: Path
    results: dict[str, Any]


def build_world(store: AimStore, folder: Path) -> World:
    """Record the run, step, data set and model version the cases name (RUN, STEP, ...)."""
    run = aimops.record_run(store, orchestrator="python", pipeline="p", run_id="r1")
    step = aimops.record_step(store, run, "t")
    dataset = aimops.record_dataset(store, "d")
    version = aimops.record_model_version(store, "m", 1)
    aimops.record_io(store, step, consumed=[dataset], produced=[version])
    assert [str(step), str(dataset), str(version)] == [STEP, DATASET, VERSION]
    rows = pd.DataFrame({"a": np.arange(20.0), "b": list("xy") * 10})
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    log = pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=6, freq="min"),
            "model_version": "v1",
            "latency_ms": [10.0] * 6,
            "status": [200] * 6,
        }
    )
    labels, scores = [0, 1] * 10, list(np.linspace(0.05, 0.95, 20))
    results = {
        "binary": monitors.evaluate_binary(labels, scores, label="v1"),
        "multiclass": monitors.evaluate_multiclass([0, 1, 2], np.eye(3)),
        "regression": monitors.evaluate_regression([1.0, 2.0, 3.0], [1.0, 2.5, 2.0]),
        "fairness": monitors.fairness(labels, scores, ["a", "b"] * 10),
        "comparison": monitors.compare(labels, {"a": scores, "b": scores[::-1]}, n_bootstrap=50),
        "drift": monitors.check_drift(rows, rows.assign(a=rows["a"] + 5)),
        "consistency": monitors.check_feature_consistency(rows, rows),
        "health": monitors.check_health(log, min_requests=1),
        "anomaly": monitors.detect_anomalies(
            [(start + dt.timedelta(hours=i), float(i % 3)) for i in range(12)]
        ),
        "data_quality": monitors.check_data_quality(rows, [{"expect": "not_null", "column": "a"}]),
        "rows": rows,
        "log": log,
    }
    return World(store, folder, results)


# -- the contract ----------------------------------------------------------------------------


def assert_contract(call: Callable[[], Any]) -> Any:
    """Run ``call``: an error must be an AimopsError with a message; a result must hold no NaN
    or infinity where a number is promised, and its ``to_dict()`` must be JSON. Returns the
    result (None after an aimops error)."""
    try:
        result = call()
    except AimopsError as error:
        assert str(error).strip(), f"{type(error).__name__} without a message"
        return None
    except Exception as error:
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        raise AssertionError(f"foreign exception {kind}: {error}"[:600]) from error
    assert_plain(result, "the result")
    return result


def assert_plain(value: Any, where: str, depth: int = 0) -> None:
    """No NaN or infinity in numbers ``value`` promises; documents are JSON."""
    assert depth < 30, f"{where} is nested too deep"
    if isinstance(value, float | np.floating):
        assert math.isfinite(value), f"{where} is {value}, not a finite number"
    elif isinstance(value, pd.DataFrame | pd.Series | np.ndarray | type):
        return  # data handed back as given (a stored reference frame)
    elif hasattr(value, "to_dict"):
        document = value.to_dict()
        json.dumps(document, allow_nan=False)  # JSON, and without NaN
        assert_plain(document, f"{where}.to_dict()", depth + 1)
        metrics = getattr(value, "metrics", None)
        if isinstance(metrics, Mapping):
            assert_plain(dict(metrics), f"{where}.metrics", depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            assert_plain(item, f"{where}[{key!r}]", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            assert_plain(item, f"{where}[{index}]", depth + 1)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """How one public object is driven: what is hostile, and how it is called."""

    target: Any
    variant: str
    arguments: st.SearchStrategy[Any]
    call: Callable[[World, Any], Any]
    #: ``"module: defect"`` of a module owned elsewhere; the case is xfail(strict=True).
    broken: str | None = None
    #: Arguments always tried first: the known hostile inputs of a broken case (or of one
    #: fixed since: they stay as its regression examples).
    known: tuple[Any, ...] = ()
    examples: int = 50
    #: Touches the store: runs on PostgreSQL too.
    store: bool = False

    @property
    def id(self) -> str:
        name = getattr(self.target, "__qualname__", type(self.target).__name__)
        return f"{name}[{self.variant}]"


def _kw(function: Callable[..., Any]) -> Callable[[World, Any], Any]:
    return lambda _world, kwargs: function(**kwargs)


def _stored(function: Callable[..., Any]) -> Callable[[World, Any], Any]:
    return lambda world, kwargs: function(world.store, **kwargs)


def _method(name: str) -> Callable[[World, Any], Any]:
    return lambda world, kwargs: getattr(world.store, name)(**kwargs)


RUN = "urn:aim:run:python/p/r1"
STEP = "urn:aim:step:python/p/r1/t"
DATASET = "urn:aim:dataset:d"
VERSION = "urn:aim:modelVersion:m/1"
URNS = [
    RUN, STEP, DATASET, VERSION, "urn:aim:dataset:" + "x" * 2000, "urn:aim:dataset:%ED%A0%80",
    "urn:aim:nope:x", "urn:aim:run:python/p", "urn:aim:dataset:a b", "urn:aim:dataset:",
    "urn:aim:dataset:missing", "urn:aim:dataset:%00", "urn:aim:model:a/b",
]  # fmt: skip
urns = st.sampled_from(URNS) | hostile
#: Keys of mappings: text, and hashable values of other types.
keys = texts | st.sampled_from([None, 3, 1.5, b"bytes", (), math.nan])
aspect_names = st.sampled_from(["tags", "metrics", "datasetInfo", "nope", "", "\ud800"]) | hostile
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
aspect_values = st.dictionaries(keys, json_values, max_size=3) | hostile
#: JSON data as the store hands it back.
stored_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
points = (
    st.lists(st.tuples(datetimes | hostile, numbers | hostile), max_size=3)
    | st.lists(hostile, min_size=1, max_size=2)
    | hostile
)
conditions = st.tuples(
    st.sampled_from(["metrics.auroc", "tags.team", "runInfo.status", "nope.x", "metrics.",
                     "metrics.\ud800", "tags." + "x" * 300, "tags.a\x00"]) | hostile,
    st.sampled_from(["=", "!=", "<", ">=", "~", ""]) | hostile,
    hostile,
)  # fmt: skip
where = st.lists(conditions, max_size=2) | st.lists(hostile, min_size=1, max_size=2) | hostile
metric_maps = st.dictionaries(keys, numbers | hostile, max_size=3)
maps = metric_maps | hostile


STORE_CASES = [
    Case(AimStore, "put_entity", vary({"urn": DATASET}, urn=urns), _method("put_entity")),
    Case(
        AimStore, "put_aspect",
        vary({"urn": DATASET, "aspect": "tags", "value": {"team": "risk"}},
             "expected_version", urn=urns, aspect=aspect_names, value=aspect_values),
        _method("put_aspect"),
    ),
    Case(
        AimStore, "put_aspect datasetInfo",
        vary({"urn": DATASET, "aspect": "datasetInfo", "value": {"name": "d"}},
             value=st.fixed_dictionaries({"name": hostile}) | st.fixed_dictionaries(
                 {"name": st.just("d"), "rows": hostile, "columns": hostile, "uri": hostile})),
        _method("put_aspect"),
    ),
    Case(
        AimStore, "put_edge",
        vary({"src": STEP, "relation": "consumed", "dst": DATASET}, "relation", src=urns, dst=urns),
        _method("put_edge"),
    ),
    Case(
        AimStore, "put_points",
        vary({"urn": DATASET, "metric": "m", "points": [(dt.datetime(2024, 1, 1), 1.0)]},
             "metric", urn=urns, points=points),
        _method("put_points"),
    ),
    Case(AimStore, "get_entity", vary({"urn": DATASET}, urn=urns), _method("get_entity")),
    Case(
        AimStore, "get_aspect",
        vary({"urn": DATASET, "aspect": "tags", "version": None}, "version", urn=urns,
             aspect=aspect_names),
        _method("get_aspect"),
    ),
    Case(AimStore, "get_aspects", vary({"urn": DATASET}, urn=urns), _method("get_aspects")),
    Case(
        AimStore, "history", vary({"urn": DATASET, "aspect": None}, urn=urns, aspect=aspect_names),
        _method("history"),
    ),
    Case(
        AimStore, "latest_values",
        vary({"urns": [DATASET], "aspect": "tags"}, aspect=aspect_names,
             urns=st.lists(urns, max_size=3) | hostile),
        _method("latest_values"),
    ),
    Case(
        AimStore, "search",
        vary({"entity_type": None, "where": (), "tags": None, "limit": 10, "offset": 0},
             "entity_type", "limit", "offset", where=where, tags=maps),
        _method("search"),
    ),
    Case(
        AimStore, "count",
        vary({"entity_type": "run", "where": (), "tags": None}, "entity_type", where=where,
             tags=maps),
        _method("count"),
    ),
    Case(
        AimStore, "lineage",
        vary({"urn": DATASET, "direction": "both", "depth": 2, "edges": True},
             "direction", "depth", "edges", urn=urns),
        _method("lineage"),
    ),
    Case(
        AimStore, "get_points",
        vary({"urn": DATASET, "metric": "m", "since": None, "until": None},
             "metric", "since", "until", urn=urns),
        _method("get_points"),
    ),
    Case(
        AimStore, "related",
        vary({"urn": STEP, "relation": "consumed", "incoming": False}, "relation", "incoming",
             urn=urns),
        _method("related"),
    ),
    Case(
        AimStore, "write",
        vary({"work": lambda tx: tx.put_entity(DATASET), "actor": None}, "work", "actor"),
        _method("write"),
    ),
    Case(
        metadata.StoreWriter, "put_aspect in a transaction",
        vary({"urn": DATASET, "aspect": "tags", "value": {"a": "b"}}, urn=urns,
             aspect=st.sampled_from(["tags", "nope", "", "\ud800", None, 3, b"x"]),
             value=aspect_values),
        lambda world, kw: _in_transaction(world, lambda tx: tx.put_aspect(**kw)),
    ),
    Case(
        metadata.StoreWriter, "unhashable names",
        vary({"src": STEP, "relation": "consumed", "dst": DATASET}, "relation"),
        lambda world, kw: _in_transaction(world, lambda tx: tx.put_edge(**kw)),
        known=({"src": STEP, "relation": [], "dst": DATASET},),
    ),
    Case(
        metadata.StoreWriter, "constructor",
        st.tuples(hostile, hostile),
        lambda _world, args: metadata.StoreWriter(*args).put_entity(DATASET),
        known=((None, "actor"),),
    ),
]  # fmt: skip


def _in_transaction(world: World, work: Callable[[Any], Any]) -> Any:
    with world.store.transaction() as tx:
        return work(tx)


STATES = st.sampled_from(["running", "success", "Up_For_Retry", "nope", ""]) | hostile
RECORD_CASES = [
    Case(
        aimops.record_pipeline, "arguments",
        vary({"orchestrator": "python", "name": "p"}, "orchestrator", "name", "project",
             "description", "owner", "schedule", "file"),
        _stored(aimops.record_pipeline),
    ),
    Case(
        aimops.record_run, "arguments",
        vary({"orchestrator": "python", "pipeline": "p", "run_id": "r1"}, "orchestrator",
             "pipeline", "run_id", "started_at", "ended_at", "run_type", "project", "conf",
             state=STATES, native_state=STATES, params=maps, metrics=maps, tags=maps),
        _stored(aimops.record_run), examples=80,
    ),
    Case(
        aimops.record_step, "arguments",
        vary({"run": RUN, "task_id": "t"}, "task_id", "map_index", "operator", run=urns,
             state=STATES, native_state=STATES),
        _stored(aimops.record_step),
    ),
    Case(
        aimops.record_attempt, "arguments",
        vary({"step": STEP, "try_number": 1}, "try_number", "started_at", "ended_at", "hostname",
             "error", "duration_s", "rendered_fields", step=urns, state=STATES,
             native_state=STATES),
        _stored(aimops.record_attempt), examples=80,
    ),
    Case(
        aimops.record_dataset, "arguments",
        vary({"name": "d"}, "name", "uri", "format", "rows", "columns", "description"),
        _stored(aimops.record_dataset),
    ),
    Case(
        aimops.record_artifact, "arguments",
        vary({"name": "a"}, "name", "kind", "uri", "media_type", "size_bytes", "checksum", "key"),
        _stored(aimops.record_artifact),
    ),
    Case(
        aimops.record_io, "arguments",
        vary({"step": STEP, "consumed": [DATASET], "produced": ()}, step=urns,
             consumed=st.lists(urns, max_size=2) | hostile,
             produced=st.lists(urns, max_size=2) | hostile),
        _stored(aimops.record_io),
    ),
    Case(
        aimops.record_model_version, "arguments",
        vary({"model": "m", "version": 2}, "model", "version", "uri", "framework",
             "mlflow_run_id", "description", produced_by=urns),
        _stored(aimops.record_model_version),
    ),
    Case(
        aimops.record_run, "target",
        st.just({"orchestrator": "python", "pipeline": "p", "run_id": "r1"}).flatmap(
            lambda kw: hostile.map(lambda target: (target, kw))
        ),
        lambda _world, args: aimops.record_run(args[0], **args[1]),
    ),
]  # fmt: skip
STORE_CASES = [dataclasses.replace(case, store=True) for case in STORE_CASES]
RECORD_CASES = [dataclasses.replace(case, store=True) for case in RECORD_CASES]


def _pipeline_run(world: World, kwargs: Mapping[str, Any]) -> Any:
    steps = kwargs.pop("steps")
    with aimops.PipelineRun(store=world.store, **kwargs) as run:
        for task_id, metrics in steps:
            with run.step(task_id) as step:
                step.log_metrics(metrics)
                step.produces_dataset(task_id)
    return run.outcomes


REFERENCE_CASES = [
    Case(
        aimops.PipelineRun, "names, steps, metrics",
        vary({"pipeline": "p", "run_id": "r2", "project": None, "steps": [("t", {"m": 1.0})]},
             "pipeline", "run_id", "project",
             steps=st.lists(st.tuples(texts | hostile, maps), max_size=2)),
        _pipeline_run, store=True, examples=40,
    ),
    Case(
        aimops.dataset_ref, "arguments",
        vary({"name": "d"}, "name", "uri", "format", "rows", "columns", "description"),
        _kw(aimops.dataset_ref),
    ),
    Case(
        aimops.artifact_ref, "arguments",
        vary({"name": "a"}, "name", "uri", "kind", "media_type", "size_bytes", "checksum", "key"),
        _kw(aimops.artifact_ref),
    ),
    Case(
        aimops.model_version_ref, "arguments",
        vary({"model": "m", "version": 1}, "model", "version", "uri", "framework",
             "mlflow_run_id", "description"),
        _kw(aimops.model_version_ref),
    ),
    Case(
        aimops.connect, "url and actor",
        vary({"url": "sqlite://", "actor": None}, "url", "actor"),
        lambda _world, kw: aimops.connect(**kw).close(),
        known=({"url": 3, "actor": None},),
    ),
    Case(
        AimStore, "constructor",
        st.tuples(hostile, hostile),
        lambda _world, args: AimStore(args[0], actor=args[1]),
        known=((None, "a"),),
    ),
    Case(AimopsError, "messages", st.lists(hostile, max_size=2),
         lambda _world, args: str(AimopsError(*args))),
]  # fmt: skip

URN_BUILDERS = {
    metadata.pipeline_urn: 2, metadata.run_urn: 3, metadata.step_urn: 4, metadata.model_urn: 1,
    metadata.model_version_urn: 2, metadata.dataset_urn: 1, metadata.artifact_urn: 1,
}  # fmt: skip
URN_CASES = [
    Case(
        builder, "text segments",
        st.lists(texts, min_size=count, max_size=count),
        lambda _world, parts, builder=builder: builder(*parts)
        if builder not in (metadata.pipeline_urn, metadata.run_urn, metadata.step_urn)
        else builder("python", *parts[1:]),
    )
    for builder, count in URN_BUILDERS.items()
] + [
    Case(
        metadata.make_urn, "wrong types",
        st.tuples(st.sampled_from(["dataset", "model"]), st.sampled_from(WRONG_TYPES)),
        lambda _world, args: metadata.make_urn(*args),
        known=(("dataset", None), ({}, "x")),
    ),
    Case(
        metadata.Urn, "parse", st.one_of(urns, texts.map(lambda t: f"urn:aim:dataset:{t}")),
        lambda _world, text: metadata.Urn.parse(text),
    ),
    Case(
        metadata.Urn, "constructor",
        st.tuples(st.sampled_from(["dataset", "run"]) | hostile, hostile),
        lambda _world, args: metadata.Urn(*args),
        known=(("dataset", None), ([], ("a",))),
    ),
    Case(
        metadata.step_urn, "map_index",
        vary({"orchestrator": "python", "pipeline": "p", "run_id": "r", "task_id": "t"},
             "map_index"),
        _kw(metadata.step_urn),
        known=({"orchestrator": "python", "pipeline": "p", "run_id": "r", "task_id": "t",
                "map_index": "x"},),
    ),
]  # fmt: skip


def _register(_world: World, kwargs: Mapping[str, Any]) -> Any:
    before = set(metadata.ASPECTS)
    try:
        return metadata.register_aspect(**kwargs)
    finally:
        for name in set(metadata.ASPECTS) - before:
            del metadata.ASPECTS[name]


class _Model(pydantic.BaseModel):
    """A pydantic model to register."""

    note: str | None = None


METADATA_CASES = [
    Case(
        metadata.normalize_state, "arguments",
        vary({"orchestrator": "airflow", "native_state": "running"}, "orchestrator",
             native_state=STATES),
        _kw(metadata.normalize_state),
    ),
    Case(
        metadata.register_aspect, "arguments",
        vary({"name": "fuzzAspect", "model": _Model, "entity_types": None, "is_map": False},
             "name", "model", "is_map",
             entity_types=st.lists(texts, max_size=2) | st.sampled_from([{"run"}]) | hostile),
        _register,
    ),
    Case(
        metadata.Entity, "fields",
        st.builds(metadata.Entity, texts, texts, datetimes), lambda _world, value: value,
    ),
    Case(
        metadata.AspectVersion, "fields",
        st.builds(metadata.AspectVersion, texts, texts, st.integers(), stored_json, texts,
                  datetimes),
        lambda _world, value: value,
    ),
    Case(metadata.Edge, "fields", st.builds(metadata.Edge, texts, texts, texts),
         lambda _world, value: value),
    Case(metadata.Point, "fields", st.builds(metadata.Point, datetimes, st.floats(
        allow_nan=False, allow_infinity=False)), lambda _world, value: value),
    Case(metadata.LineageNode, "fields", st.builds(metadata.LineageNode, texts, texts,
         st.integers()), lambda _world, value: value),
    Case(
        metadata.LineageGraph, "fields",
        st.builds(metadata.LineageGraph, texts, st.sampled_from(["upstream", "both"]),
                  st.integers(0, 50)),
        lambda _world, value: value,
    ),
]  # fmt: skip

LABELS, SCORES = [0, 1, 0, 1], [0.1, 0.9, 0.3, 0.6]
BINARY = {"y_true": LABELS, "y_score": SCORES, "sample_weight": None, "threshold": 0.5,
          "label": "v1"}  # fmt: skip
probability = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 5e-324, 1 - 1e-16])
weight = st.floats(0, 1e308) | st.sampled_from([0.0, 5e-324, 1e-300, 1e300, 1e308])


@st.composite
def binary_rows(draw: st.DrawFn, *, weighted: bool = True) -> dict[str, Any]:
    """Well-shaped binary data with extreme values: correct results or aimops errors."""
    size = draw(st.integers(1, 12))
    kwargs: dict[str, Any] = {
        "y_true": draw(st.lists(st.sampled_from([0, 1]), min_size=size, max_size=size)),
        "y_score": draw(st.lists(probability, min_size=size, max_size=size)),
        "threshold": draw(probability),
    }
    if weighted and draw(st.booleans()):
        kwargs["sample_weight"] = draw(st.lists(weight, min_size=size, max_size=size))
    return kwargs


@st.composite
def multiclass_rows(draw: st.DrawFn) -> dict[str, Any]:
    size, k = draw(st.integers(1, 8)), draw(st.integers(2, 4))
    raw = draw(st.lists(st.lists(probability, min_size=k, max_size=k), min_size=size,
                        max_size=size))  # fmt: skip
    matrix = np.array(raw, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    matrix = np.divide(matrix, sums, out=np.full_like(matrix, 1 / k), where=sums > 0)
    kwargs: dict[str, Any] = {
        "y_true": draw(st.lists(st.integers(0, k - 1), min_size=size, max_size=size)),
        "y_score": matrix,
    }
    if draw(st.booleans()):
        kwargs["sample_weight"] = draw(st.lists(weight, min_size=size, max_size=size))
    return kwargs


@st.composite
def regression_rows(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(1, 8))
    value = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e308, -1e308])
    kwargs: dict[str, Any] = {
        "y_true": draw(st.lists(value, min_size=size, max_size=size)),
        "y_pred": draw(st.lists(value, min_size=size, max_size=size)),
    }
    if draw(st.booleans()):
        kwargs["sample_weight"] = draw(st.lists(weight, min_size=size, max_size=size))
    return kwargs


@st.composite
def fairness_rows(draw: st.DrawFn) -> dict[str, Any]:
    kwargs = draw(binary_rows())
    size = len(kwargs["y_true"])
    kwargs["groups"] = draw(st.lists(st.sampled_from(["a", "b", 0, "\ud800"]), min_size=size,
                                     max_size=size))  # fmt: skip
    kwargs["min_group_size"] = draw(st.integers(1, 3))
    return kwargs


@st.composite
def compared_rows(draw: st.DrawFn) -> dict[str, Any]:
    kwargs = draw(binary_rows())
    size = len(kwargs["y_true"])
    other = draw(st.lists(probability, min_size=size, max_size=size))
    return {
        "y_true": kwargs["y_true"],
        "scores": {"a": kwargs["y_score"], "b": other},
        "sample_weight": kwargs.get("sample_weight"),
        "metrics": draw(st.sampled_from([("auroc", "log_loss"), ("f1", "ppr", "aupr")])),
        "n_bootstrap": 50,
    }


def _evaluations(world: World, kwargs: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` on a real result of the kind named: its constructor checks."""
    kwargs = dict(kwargs)
    return dataclasses.replace(world.results[kwargs.pop("kind")], **kwargs)


RESULT_FIELDS = {"metrics": maps, "n": hostile, "label": hostile, "weighted": hostile}
EVALUATION_CASES = [
    Case(monitors.evaluate_binary, "inputs",
         vary(BINARY, y_true=arrays, y_score=arrays, sample_weight=arrays, threshold=hostile,
              label=hostile), _kw(monitors.evaluate_binary), examples=80),
    Case(monitors.evaluate_binary, "extreme rows", binary_rows(), _kw(monitors.evaluate_binary),
         examples=80),
    Case(
        monitors.evaluate_binary, "settings",
        vary(BINARY, "max_curve_points", "calibration_bins"), _kw(monitors.evaluate_binary),
        known=({**BINARY, "max_curve_points": None}, {**BINARY, "calibration_bins": "x"}),
    ),
    Case(
        monitors.evaluate_multiclass, "inputs",
        vary({"y_true": [0, 1, 2], "y_score": np.eye(3), "sample_weight": None, "labels": None},
             y_true=arrays, y_score=arrays, sample_weight=arrays, labels=arrays, label=hostile),
        _kw(monitors.evaluate_multiclass), examples=80,
    ),
    Case(monitors.evaluate_multiclass, "extreme rows", multiclass_rows(),
         _kw(monitors.evaluate_multiclass), examples=60),
    Case(
        monitors.evaluate_regression, "inputs",
        vary({"y_true": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.5, 2.0]}, y_true=arrays,
             y_pred=arrays, sample_weight=arrays, label=hostile),
        _kw(monitors.evaluate_regression), examples=80,
    ),
    Case(monitors.evaluate_regression, "extreme rows", regression_rows(),
         _kw(monitors.evaluate_regression), examples=60),
    Case(
        monitors.fairness, "inputs",
        vary({**BINARY, "groups": ["a", "a", "b", "b"]}, y_true=arrays, y_score=arrays,
             groups=arrays, sample_weight=arrays, threshold=hostile, min_group_size=hostile,
             attribute=hostile, label=hostile),
        _kw(monitors.fairness), examples=80,
    ),
    Case(monitors.fairness, "extreme rows", fairness_rows(), _kw(monitors.fairness),
         examples=60),
    Case(
        monitors.compare, "inputs",
        vary({"y_true": LABELS, "scores": {"a": SCORES, "b": SCORES[::-1]}, "n_bootstrap": 50},
             "baseline", "metrics", "threshold", "confidence", "method", "n_bootstrap", "seed",
             "label", y_true=arrays, sample_weight=arrays,
             scores=st.dictionaries(texts | st.sampled_from([0, None]), arrays, max_size=3)
             | st.lists(arrays, max_size=3) | hostile),
        _kw(monitors.compare), examples=80,
    ),
    Case(monitors.compare, "extreme rows", compared_rows(), _kw(monitors.compare),
         examples=40),
    Case(
        monitors.Gate, "arguments",
        vary({"metric": "auroc", "minimum": 0.5}, "metric", "minimum", "maximum",
             "max_regression", "higher_is_better"),
        lambda _world, kw: monitors.Gate(**kw),
    ),
    Case(
        monitors.check_gates, "arguments",
        vary({"metrics": {"auroc": 0.9}, "gates": [monitors.Gate("auroc", max_regression=0.1)],
              "baseline_metrics": {"auroc": 0.8}},
             "baseline", metrics=maps, baseline_metrics=maps,
             gates=st.lists(hostile, max_size=2) | hostile),
        _kw(monitors.check_gates),
    ),
    Case(monitors.get_analyzer, "name", vary({"name": "binary"}, "name"),
         _kw(monitors.get_analyzer)),
    Case(monitors.list_analyzers, "no arguments", st.just({}),
         lambda _world, _kw: monitors.list_analyzers(), examples=1),
    Case(
        monitors.EvaluationResult, "fields",
        vary({"metrics": {"a": 1.0}, "n": 1, "weighted": False, "label": None},
             **RESULT_FIELDS),
        _kw(monitors.EvaluationResult),
    ),
    *[
        Case(kind, "fields", vary({"kind": name}, **RESULT_FIELDS), _evaluations)
        for name, kind in {
            "binary": monitors.BinaryEvaluation, "multiclass": monitors.MulticlassEvaluation,
            "regression": monitors.RegressionEvaluation, "fairness": monitors.FairnessResult,
            "comparison": monitors.Comparison,
        }.items()
    ],
]  # fmt: skip


def _record_evaluation(world: World, kwargs: Mapping[str, Any]) -> Any:
    kwargs = dict(kwargs)
    result = kwargs.pop("result")
    result = world.results.get(result, result) if isinstance(result, str) else result
    return monitors.record_evaluation(world.store, result, **kwargs)


documents = st.fixed_dictionaries(
    {"kind": hostile | st.just("binary"), "n": hostile | st.just(3), "metrics": maps}
)
RECORDING_CASES = [
    Case(
        monitors.record_evaluation, "arguments",
        vary({"result": "binary", "key": "e/1"}, "key", "predictions_uri", result=hostile
             | documents | st.sampled_from(["binary", "comparison", "fairness"]),
             model_version=urns | st.lists(urns, max_size=2), dataset=urns, producer=urns,
             gates=st.lists(hostile, max_size=2) | hostile),
        _record_evaluation, store=True, examples=80,
    ),
    Case(monitors.load_evaluation, "urn", vary({"urn": "urn:aim:evaluation:e/1"}, urn=urns),
         _stored(monitors.load_evaluation), store=True),
    Case(
        monitors.list_checks, "filters", vary({"model": None, "kind": None}, "model", "kind"),
        _stored(monitors.list_checks), store=True,
    ),
    Case(
        monitors.list_checks, "limit", vary({"limit": 10}, "limit"),
        _stored(monitors.list_checks), store=True,
        known=({"limit": "x"},),
    ),
    Case(
        monitors.record_check, "key, name, producer",
        vary({"key": "c/1"}, "key", "name", target=st.lists(urns, max_size=2), producer=urns),
        lambda world, kw: monitors.record_check(world.store, world.results["drift"], **kw),
        store=True,
    ),
    Case(
        monitors.record_check, "target",
        vary({"key": "c/1"}, target=hostile),
        lambda world, kw: monitors.record_check(world.store, world.results["drift"], **kw),
        known=({"key": "c/1", "target": math.nan},),
    ),
    Case(
        monitors.record_check, "result and reports",
        vary({"result": None, "reports": None}, "result", "reports"),
        lambda world, kw: monitors.record_check(
            world.store, world.results["drift"] if kw["result"] is None else kw["result"],
            reports=kw["reports"], key="c/2"),
        known=({"result": "x", "reports": None}, {"result": None, "reports": "x"}),
    ),
    Case(
        monitors.register_reference, "frame and version",
        vary({"model_version": VERSION, "max_rows": 10}, "max_rows",
             frame=frames(), model_version=urns),
        lambda world, kw: monitors.register_reference(
            world.store, frame=kw.get("frame", world.results["rows"]), folder=world.folder / "r",
            **{k: v for k, v in kw.items() if k != "frame"}),
        store=True, examples=40,
    ),
    Case(
        monitors.register_reference, "seed",
        vary({"seed": 0}, "seed"),
        lambda world, kw: monitors.register_reference(
            world.store, VERSION, world.results["rows"], max_rows=5, folder=world.folder / "s",
            **kw),
        known=({"seed": "x"},),
    ),
    Case(monitors.load_reference, "version", vary({"model_version": VERSION},
         model_version=urns), _stored(monitors.load_reference), store=True),
]  # fmt: skip


def _with_rows(function: Callable[..., Any], *roles: str) -> Callable[[World, Any], Any]:
    """Call ``function`` with the world's rows in ``roles`` unless the case made them hostile."""

    def call(world: World, kwargs: Mapping[str, Any]) -> Any:
        given = [kwargs.get(role, world.results["rows"]) for role in roles]
        rest = {key: value for key, value in kwargs.items() if key not in roles}
        return function(*given, **rest)

    return call


def _health(world: World, kwargs: Mapping[str, Any]) -> Any:
    kwargs = dict(kwargs)
    log = world.results["log"]
    column = kwargs.pop("column", None)
    if column is not None:
        log = log.assign(**{column[0]: [column[1]] * len(log)})
    return monitors.check_health(kwargs.pop("requests", log), min_requests=1, **kwargs)


START = dt.datetime(2024, 1, 1)
SERIES = [(START + dt.timedelta(hours=i), float(i % 3)) for i in range(12)]
series = (
    st.lists(st.tuples(datetimes | hostile, numbers | hostile), max_size=12)
    | st.lists(hostile, max_size=3)
    | st.sampled_from([pd.Series([1.0, math.nan], index=pd.date_range("2024", periods=2)),
                       pd.Series([1, 2]), pd.Series(dtype=float), "", b"", {}, ()])
)  # fmt: skip
LOG_COLUMNS = ("timestamp", "model_version", "latency_ms", "status")
suites = (
    st.lists(
        st.fixed_dictionaries({"expect": st.sampled_from(["not_null", "between", "nope"])
                               | hostile, "column": st.just("a") | hostile},
                              optional={"min": numbers | hostile, "severity": hostile}),
        max_size=2,
    )
    | st.sampled_from(["expectations: []", "expectations: [{expect: not_null, column: a}]",
                       "{", "x.yaml", "a: b", "- 1"])
    | hostile
)  # fmt: skip
CHECK_CASES = [
    Case(monitors.check_drift, "frames", vary({}, reference=frames(), current=frames()),
         _with_rows(monitors.check_drift, "reference", "current"), examples=80),
    Case(
        monitors.check_drift, "settings",
        vary({}, "drift_share", "min_rows",
             numerical_columns=st.lists(texts | st.just("a"), max_size=2),
             categorical_columns=st.lists(texts | st.just("b"), max_size=2)),
        _with_rows(monitors.check_drift, "reference", "current"),
    ),
    Case(
        monitors.check_drift, "column lists and engine",
        vary({}, "engine", numerical_columns=hostile, categorical_columns=hostile),
        _with_rows(monitors.check_drift, "reference", "current"),
        known=({"numerical_columns": pd.Series(["a"])}, {"categorical_columns": 3},
               {"engine": np.array([1, 2])}),
    ),
    Case(
        monitors.check_drift, "methods and thresholds",
        vary({}, methods=st.dictionaries(texts, hostile, max_size=2) | hostile,
             thresholds=st.dictionaries(st.just("a"), hostile, max_size=1) | hostile),
        _with_rows(monitors.check_drift, "reference", "current"),
        known=({"methods": "x"}, {"thresholds": b"ab"}),
    ),
    Case(monitors.check_feature_consistency, "frames",
         vary({}, training=frames(), serving=frames()),
         _with_rows(monitors.check_feature_consistency, "training", "serving"), examples=80),
    Case(
        monitors.check_feature_consistency, "settings",
        vary({}, "min_match_rate", features=st.lists(texts, max_size=2),
             skew_status=texts | numbers | st.sampled_from(WRONG_TYPES[:9])),
        _with_rows(monitors.check_feature_consistency, "training", "serving"),
    ),
    Case(
        monitors.check_feature_consistency, "key, features, thresholds",
        vary({}, "skew_status", key=hostile, features=hostile,
             thresholds=st.dictionaries(st.just("a"), hostile) | hostile),
        _with_rows(monitors.check_feature_consistency, "training", "serving"),
        known=({"key": {}}, {"features": 3}, {"thresholds": "x"},
               {"skew_status": np.array([1, 2])}),
    ),
    Case(
        monitors.check_health, "log",
        vary({}, requests=frames("timestamp", "latency_ms"),
             model_version=texts | numbers | st.sampled_from([None, "v1", b"v1"]),
             column=st.tuples(st.sampled_from(LOG_COLUMNS), st.sampled_from(
                 [None, math.nan, -1.0, math.inf, "x", "\ud800", 99, 600, 2.5, True, b"x"]))),
        _health, examples=80,
    ),
    Case(
        monitors.check_health, "objectives",
        vary({}, "model_version",
             objectives=st.dictionaries(st.sampled_from(["success_rate_min", "x"]), hostile)
             | hostile, column=st.tuples(st.just("model_version"), st.sampled_from([{}, []]))),
        _health,
        known=({"objectives": "x"}, {"column": ("model_version", {})},
               {"model_version": np.array([1, 2])}),
    ),
    Case(monitors.detect_anomalies, "points", vary({"points": SERIES}, points=series),
         _kw(monitors.detect_anomalies), examples=80),
    Case(
        monitors.detect_anomalies, "settings",
        vary({"points": SERIES}, "season", "threshold", "min_points"),
        _kw(monitors.detect_anomalies),
        known=({"points": SERIES, "threshold": None}, {"points": SERIES, "min_points": "x"},
               {"points": None}),
    ),
    Case(
        monitors.check_data_quality, "suite",
        vary({"data": pd.DataFrame({"a": [1.0, None]}),
              "suite": [{"expect": "not_null", "column": "a"}]}, suite=suites),
        _kw(monitors.check_data_quality), examples=40,
    ),
    Case(
        monitors.check_data_quality, "data",
        vary({"suite": [{"expect": "not_null", "column": "a"}]},
             data=frames(others=False).filter(lambda frame: not _holds_surrogates(frame))),
        lambda world, kw: monitors.check_data_quality(
            kw.get("data", world.results["rows"]), kw["suite"]),
        examples=20,
    ),
    Case(
        monitors.check_data_quality, "name and data of other types",
        vary({"data": pd.DataFrame({"a": [1.0]}),
              "suite": [{"expect": "not_null", "column": "a"}]}, "name", "data"),
        _kw(monitors.check_data_quality),
        known=({"data": pd.DataFrame({"a": [1.0]}), "suite": [{"expect": "not_null",
                "column": "a"}], "name": math.nan},
               {"data": "x" * 5000, "suite": [{"expect": "not_null", "column": "a"}]},
               {"data": pd.DataFrame({"a": ["\ud800"]}), "suite": [{"expect": "not_null",
                "column": "a"}]}),
    ),
]  # fmt: skip

documents_of_checks = st.sampled_from(["drift", "consistency", "health", "anomaly", "data_quality"])


def _check_document(world: World, kwargs: Mapping[str, Any]) -> Any:
    """The document of a real check of ``kind``, a document of an unknown kind, or the
    hostile value itself."""
    kind = kwargs.get("kind", "drift")
    if isinstance(kind, str):
        found = world.results.get(kind)
        return found.to_dict() if found is not None else {"kind": kind, "status": "pass"}
    return kind


REPORT_CASES = [
    Case(
        monitors.render_check_report, "document",
        vary({}, kind=documents_of_checks | hostile | st.dictionaries(
            st.sampled_from(["kind", "status", "metrics", "x"]), hostile)),
        lambda world, kw: monitors.render_check_report(_check_document(world, kw)),
    ),
    Case(
        monitors.render_check_report, "title, links, targets",
        vary({}, "checked_at", title=hostile, links=st.dictionaries(texts, texts) | hostile,
             targets=st.lists(texts, max_size=2) | hostile),
        lambda world, kw: monitors.render_check_report(_check_document(world, {}), **kw),
        known=({"title": b"ab"}, {"links": "x"}, {"targets": None}),
    ),
    Case(
        monitors.render_report, "items",
        vary({"items": "binary"}, items=hostile | st.lists(hostile | st.sampled_from(
            ["binary", "comparison", "fairness", "multiclass", "regression"]), max_size=3)
            | documents.filter(lambda document: isinstance(document["kind"], Hashable))),
        lambda world, kw: monitors.render_report(
            [world.results.get(i, i) if isinstance(i, str) else i for i in kw["items"]]
            if isinstance(kw["items"], list) else world.results.get(kw["items"], kw["items"])
            if isinstance(kw["items"], str) else kw["items"]),
    ),
    Case(
        monitors.render_report, "document kinds",
        st.just({"kind": [1, 2], "n": 1, "metrics": {}}),
        lambda _world, document: monitors.render_report(document),
        known=({"kind": [1, 2], "n": 1, "metrics": {}},),
    ),
    Case(
        monitors.render_report, "title",
        vary({"title": None}, "title"),
        lambda world, kw: monitors.render_report([world.results["binary"]], **kw),
        known=({"title": b"ab"},),
    ),
    Case(
        monitors.write_report, "path",
        vary({"path": "r.html"}, "path"),
        lambda world, kw: monitors.write_report([world.results["binary"]], _inside(world, kw)),
        known=({"path": None},),
    ),
    Case(
        monitors.write_check_report, "path",
        vary({"path": "c.html"}, "path"),
        lambda world, kw: monitors.write_check_report(
            _check_document(world, {}), _inside(world, kw)),
        known=({"path": None},),
    ),
]  # fmt: skip


def _inside(world: World, kwargs: Mapping[str, Any]) -> Any:
    """A path made hostile stays inside the test's folder when it is text (a page, an alert
    log): relative text would otherwise be written under the working directory."""
    path = kwargs["path"]
    return world.folder / "pages" / path.replace("/", "_") if isinstance(path, str) else path


class _Half:
    def predict_proba(self, rows: Any) -> Any:
        return [[0.5, 0.5]] * len(rows)


class _Broken:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def predict_proba(self, rows: Any) -> Any:
        return self.answer


SERVING = {"model": _Half(), "model_version": "v1", "day": dt.date(2024, 5, 1), "requests": 20}
WINDOW = {
    "models": {"3": _Half(), "4": _Half()}, "model": "churn", "weights": {"3": 90, "4": 10},
    "start": dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC),
    "end": dt.datetime(2024, 5, 1, 10, 10, tzinfo=dt.UTC), "requests": 20,
}  # fmt: skip
VERSIONS = ["3", "4", "5", 3, np.int64(4), True, "a/b", "..", " 3"]
SERVING_FAULTS = ["latency_regression_ms", "latency_regression_share", "error_rate", "drift"]
SERVING_CASES = [
    Case(
        monitors.simulate_serving_day, "arguments",
        vary(SERVING, "model_version", "day", "requests", "seed", "latency_regression_ms",
             "latency_regression_share", "error_rate", "entity_key",
             features=frames(), drift=st.dictionaries(st.just("a"), hostile) | hostile,
             model=hostile | st.builds(_Broken, arrays)),
        lambda world, kw: monitors.simulate_serving_day(
            features=kw.get("features", world.results["rows"]),
            **{k: v for k, v in kw.items() if k != "features"}),
        examples=80,
    ),
    Case(
        monitors.ServingDay, "constructor, write and read",
        st.tuples(frames() | st.just("rows"), frames() | st.just("rows"), texts | hostile),
        lambda world, args: _serving_day(world, *args),
    ),
    Case(
        monitors.simulate_serving_window, "arguments",
        vary(WINDOW, "model", "requests", "seed", "write", "root",
             features=frames(), start=datetimes | hostile, end=datetimes | hostile,
             weights=st.dictionaries(st.sampled_from(VERSIONS) | texts | numbers,
                                     st.integers(-5, 105) | hostile, max_size=3) | hostile,
             models=st.dictionaries(st.sampled_from(VERSIONS) | texts | numbers,
                                    hostile | st.builds(_Broken, arrays), max_size=3) | hostile,
             faults=st.dictionaries(
                 st.sampled_from(VERSIONS) | texts | numbers,
                 st.dictionaries(st.sampled_from([*SERVING_FAULTS, "x"]), hostile, max_size=2)
                 | st.builds(lambda v: {"drift": {"a": v}}, hostile) | hostile,
                 max_size=2,
             ) | hostile),
        lambda world, kw: monitors.simulate_serving_window(
            kw.pop("models"), kw.pop("features", world.results["rows"]),
            root=_window_root(world, kw.pop("root", "windows")), **kw),
        examples=80,
    ),
]  # fmt: skip


def _window_root(world: World, root: Any) -> Any:
    """A root made hostile stays inside the test's folder when it is text."""
    return world.folder / "windows" / root.replace("/", "_") if isinstance(root, str) else root


def _serving_day(world: World, requests: Any, snapshot: Any, folder: Any) -> Any:
    rows = world.results["rows"]
    day = monitors.ServingDay(
        rows if isinstance(requests, str) else requests,
        rows if isinstance(snapshot, str) else snapshot,
    )
    target = world.folder / "days" / folder.replace("/", "_") if isinstance(folder, str) else folder
    return monitors.ServingDay.read(day.write(target))


def _alert(world: World, kwargs: Mapping[str, Any]) -> Any:
    kwargs = dict(kwargs)
    options = {key: kwargs.pop(key) for key in ("webhook_url", "timeout") if key in kwargs}
    log = _inside(world, {"path": kwargs.pop("log_path", "alerts.log")})
    alert = kwargs.pop("alert") if "alert" in kwargs else monitors.Alert(**kwargs)
    return monitors.send_alert(
        alert,
        log_path=log,
        webhook_url=options.get("webhook_url", ""),
        **{k: v for k, v in options.items() if k == "timeout"},
    )


ALERT = {"title": "t failed", "message": "boom"}
ALERT_CASES = [
    Case(
        monitors.Alert, "fields",
        vary(ALERT, "title", "message", "severity", "check_urn",
             source=st.dictionaries(texts, texts) | hostile,
             links=st.dictionaries(texts, texts) | hostile),
        _alert,
        known=({**ALERT, "title": "\ud800"},),
    ),
    Case(
        monitors.send_alert, "arguments",
        vary(ALERT, "alert", "webhook_url", "log_path"),
        _alert,
        known=({**ALERT, "alert": "x"}, {**ALERT, "webhook_url": {}}, {**ALERT, "log_path": {}}),
    ),
]  # fmt: skip

CHECK_RESULTS = {
    "drift": monitors.DriftResult, "consistency": monitors.ConsistencyResult,
    "health": monitors.HealthResult, "anomaly": monitors.AnomalyResult,
    "data_quality": monitors.DataQualityResult,
}  # fmt: skip
CHECK_RESULT_CASES = [
    Case(
        kind, "fields", vary({"kind": name}, metrics=maps, status=hostile),
        _evaluations,
        known=({"kind": name, "metrics": {"x": math.nan}},),
    )
    for name, kind, module in [
        ("consistency", monitors.ConsistencyResult, "consistency"),
        ("health", monitors.HealthResult, "health"),
        ("anomaly", monitors.AnomalyResult, "anomalies"),
        ("data_quality", monitors.DataQualityResult, "data_quality"),
    ]
] + [
    Case(
        monitors.DriftResult, "fields", vary({"kind": "drift"}, metrics=maps), _evaluations,
        known=({"kind": "drift", "metrics": {"x": "y"}},),
    ),
    Case(
        monitors.ColumnDrift, "fields",
        vary({"kind": "numerical", "method": "ks", "threshold": 0.05, "score": 0.5,
              "drifted": False}, "kind", "method", "threshold", "score", "drifted"),
        lambda _world, kw: monitors.ColumnDrift(**kw),
        known=({"kind": "numerical", "method": "ks", "threshold": 0.05, "score": "x",
                "drifted": False},),
    ),
]  # fmt: skip

CASES: list[Case] = [
    *STORE_CASES, *RECORD_CASES, *REFERENCE_CASES, *URN_CASES, *METADATA_CASES,
    *EVALUATION_CASES, *RECORDING_CASES, *CHECK_CASES, *REPORT_CASES, *SERVING_CASES,
    *ALERT_CASES, *CHECK_RESULT_CASES,
]  # fmt: skip

#: Public names that are not called, and why.
NOT_DRIVEN = {
    "aimops.__version__": "the package's version string",
    "aimops.metadata.ASPECTS": "the aspect registry, a dict (register_aspect is driven)",
    "aimops.metadata.RELATIONS": "the relation registry, a dict",
    "aimops.metadata.STATES": "the shared state words, a tuple",
    "aimops.monitors.Analyzer": "a typing.Protocol, for isinstance; not constructed "
    "(get_analyzer and list_analyzers are driven)",
}


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store = AimStore.open("sqlite://", actor="fuzzer")
    yield build_world(store, tmp_path_factory.mktemp("facades"))
    store.close()


def run_case(case: Case, world: World, examples: int | None = None) -> None:
    """Drive ``case`` with its strategy (and its known inputs first) under the contract."""

    def check(arguments: Any) -> None:
        assert_contract(lambda: case.call(world, _copy(arguments)))

    test = given(case.arguments)(check)
    for known in case.known:
        test = example(known)(test)
    settings(
        max_examples=examples or case.examples,
        deadline=None,
        derandomize=True,
        database=None,
        # A broken case fails on its known input: no search, no shrinking, just the failure.
        phases=[Phase.explicit] if case.broken else [Phase.explicit, Phase.generate, Phase.shrink],
        # Frames, arrays and the store make examples slower than hypothesis expects; the
        # budget is max_examples, not time.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test)()


def _copy(arguments: Any) -> Any:
    """A fresh top-level copy: calls may pop keyword arguments."""
    return dict(arguments) if isinstance(arguments, dict) else arguments


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.broken)] if case.broken else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_the_contract_holds(case: Case, world: World) -> None:
    run_case(case, world)


@pytest.mark.postgres
def test_the_store_cases_hold_on_postgresql(postgres_database: str, tmp_path: Path) -> None:
    store = AimStore.open(postgres_database, create=True, actor="fuzzer")
    try:
        world = build_world(store, tmp_path)
        for case in CASES:
            if case.store and not case.broken:
                run_case(case, world, examples=12)
    finally:
        store.close()


def _public_names(facade: str) -> set[str]:
    module = importlib.import_module(facade)
    lazy = getattr(module, "_LAZY", {})
    return set(module.__all__) | set(lazy)


def test_every_public_name_is_driven() -> None:
    """A name a facade gains needs a case (or a reason in NOT_DRIVEN): coverage stays whole."""
    driven = {id(case.target) for case in CASES}
    missing = []
    for facade in FACADES:
        module = importlib.import_module(facade)
        for name in sorted(_public_names(facade)):
            if f"{facade}.{name}" in NOT_DRIVEN:
                continue
            if id(getattr(module, name)) not in driven:
                missing.append(f"{facade}.{name}")
    assert not missing, f"public names without a case in CASES: {missing}"
    for key in NOT_DRIVEN:
        facade, _, name = key.rpartition(".")
        assert name in _public_names(facade), f"{key} is no longer public: drop it"
