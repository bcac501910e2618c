"""Benchmark of the AIM store against its anchors.

Run: ``.venv/bin/python benchmarks/store_bench.py`` (``--quick`` for a smoke run, ``--help``).

Everything is timed in-process, after the store (or MLflow's store) is open.

1. Recording, one run per transaction as a pipeline would record it: each run is
   ``record_run`` plus a ``params`` (20 keys), ``metrics`` (20 keys, one of them ``auroc``)
   and ``tags`` (5 keys) aspect, every key searchable through the aspect-field index.
   Compared with MLflow's own SQLAlchemy tracking store on SQLite in the same process
   (``create_run`` + ``log_batch`` + ``update_run_info`` per run).
   Anchor: aimops at least 20x MLflow's runs/s (MLflow was measured at ~16 runs/s earlier).
   Then "runs where metrics.auroc > 0.9" (10% of the runs qualify): ``store.search`` against
   MLflow's ``search_runs``; median over repeats, and the match counts must agree.

2. Lineage on a synthetic pipeline graph (1,000 source datasets, ``--runs`` runs of 10 steps,
   each step consuming 1-3 and producing 1-2 datasets or artifacts; a run's first step reads
   source datasets, later steps mostly read the run's own earlier outputs; 1 run in 50
   publishes a shared dataset that 5% of later runs also read). That is ~26 entities and ~45
   edges per run: 100,000 runs give ~2.6M entities and ~4.5M edges (the issue's "about
   1,000,000 edges" would be ~22,000 runs of this shape); a source dataset is read by ~250
   runs, so its closure to depth 10 is a few thousand nodes (~6,000), not the whole graph.
   Every run also gets a ``runInfo`` aspect (and its indexed fields), as ``runs list`` needs.
   The graph is bulk loaded straight into the tables (executemany on SQLite, COPY on
   PostgreSQL, foreign keys checked), then ANALYZEd. Small graphs (<= 5,000 runs) are also
   checked: every closure's node count against a breadth-first walk done in Python.
   Measured: the downstream closure of a source dataset to depth 10 (``store.lineage``),
   median and p95 over ~30 source datasets (goal: median < 50 ms), and the first page of
   ``list_runs(store, limit=100)`` (goal: median < 100 ms).

Results are printed as a table next to the anchors and written as JSON to
``benchmarks/results/store_bench.json``. PostgreSQL databases are named ``aimops_bench_*``
and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_support import (
    config_of,
    environment,
    fmt,
    git_state,
    log,
    names_from,
    render_table,
    summary_ms,
    working_directory,
    write_json,
)

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from aimops.metadata import AimStore, Entity, LineageGraph
from aimops.metadata.aspects import canonical_json, index_rows
from aimops.metadata.recording import record_run
from aimops.metadata.relations import flow_endpoints
from aimops.metadata.views import list_runs

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "store_bench.json"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

ANCHORS = {
    "mlflow_runs_per_s_earlier": 16.0,
    "record_speedup_vs_mlflow": 20.0,
    "lineage_median_ms": 50.0,
    "list_runs_median_ms": 100.0,
    "lineage_edges_in_issue": 1_000_000,
}


# -- timing -------------------------------------------------------------------------------


def time_ms(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def repeat_ms(call: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    return [time_ms(call)[0] for _ in range(repeats)]


# -- databases ----------------------------------------------------------------------------


def _pg_admin(admin_url: str) -> Any:
    import psycopg

    return psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=10)


def libpq_url(url: str) -> str:
    """``url`` as psycopg takes it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A fresh database ``name`` (must start with aimops_bench_), dropped afterwards."""
    assert name.startswith("aimops_bench_"), name
    with _pg_admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        if not keep:
            with _pg_admin(admin_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def backend_url(
    backend: str, workdir: Path, purpose: str, args: argparse.Namespace
) -> Iterator[str]:
    if backend == "sqlite":
        path = workdir / f"aim_{purpose}.db"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
    else:
        with postgres_database(args.pg_url, f"aimops_bench_{purpose}", args.keep) as url:
            yield url


# -- part 1: recording and search ---------------------------------------------------------


@dataclass(frozen=True)
class RunPayload:
    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def make_payloads(count: int, seed: int) -> list[RunPayload]:
    """``count`` runs of 20 params, 20 metrics (``auroc`` > 0.9 for 1 run in 10), 5 tags."""
    rng = random.Random(seed)
    payloads = []
    for index in range(count):
        params = {
            f"param_{k:02d}": f"{rng.choice(['adam', 'sgd', 'lbfgs'])}-{k}" for k in range(20)
        }
        metrics = {f"metric_{k:02d}": round(rng.uniform(0, 100), 4) for k in range(19)}
        good = index % 10 == 3
        metrics["auroc"] = round(rng.uniform(0.901, 0.99) if good else rng.uniform(0.5, 0.9), 4)
        tags = {
            "team": rng.choice(["risk", "growth", "search"]),
            "owner": f"user{rng.randrange(50)}",
            "env": rng.choice(["dev", "prod"]),
            "git_sha": f"{rng.getrandbits(40):010x}",
            "dataset": f"customers-v{rng.randrange(10)}",
        }
        payloads.append(RunPayload(f"run-{index:06d}", params, metrics, tags))
    return payloads


def expected_matches(payloads: list[RunPayload]) -> int:
    return sum(1 for payload in payloads if payload.metrics["auroc"] > 0.9)


def record_aimops(store: AimStore, payloads: list[RunPayload]) -> float:
    """Record every payload, one transaction per run (as a pipeline would); returns runs/s."""
    start = time.perf_counter()
    for payload in payloads:
        record_run(
            store,
            orchestrator="python",
            pipeline="bench",
            run_id=payload.run_id,
            params=payload.params,
            metrics=payload.metrics,
            tags=payload.tags,
        )
    return len(payloads) / (time.perf_counter() - start)


def search_aimops(store: AimStore, repeats: int) -> dict[str, Any]:
    where = [("metrics.auroc", ">", 0.9)]

    def search() -> list[Entity]:
        return store.search("run", where=where, limit=1000)

    def search_and_fetch() -> int:
        return len(store.latest_values([run.urn for run in search()], "metrics"))

    matches = len(search())
    return {
        "search": summary_ms(repeat_ms(search, repeats)),
        "search_and_fetch_metrics": summary_ms(repeat_ms(search_and_fetch, repeats)),
        "matches": matches,
    }


def analyze(store: AimStore) -> None:
    """Refresh the planner statistics (autovacuum would, some time after the writes)."""
    with store.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


def bench_aimops_recording(url: str, payloads: list[RunPayload], repeats: int) -> dict[str, Any]:
    """Record, search on the statistics the writes left, then ANALYZE and search again."""
    store = AimStore.open(url, create=True, actor="bench")
    try:
        runs_per_s = record_aimops(store, payloads)
        result: dict[str, Any] = {"runs": len(payloads), "runs_per_s": runs_per_s}
        result["before_analyze"] = search_aimops(store, repeats)
        analyze(store)
        result.update(search_aimops(store, repeats))
    finally:
        store.close()
    return result


def _mlflow_store(workdir: Path) -> Any:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    artifacts = workdir / "mlflow-artifacts"
    return SqlAlchemyStore(f"sqlite:///{workdir / 'mlflow.db'}", artifacts.as_uri())  # type: ignore[no-untyped-call]


def record_mlflow(store: Any, experiment_id: str, payloads: list[RunPayload]) -> float:
    """create_run + log_batch + update_run_info per payload; returns runs per second."""
    from mlflow.entities import Metric, Param, RunStatus, RunTag

    start = time.perf_counter()
    for payload in payloads:
        now = int(time.time() * 1000)
        run = store.create_run(experiment_id, "bench", now, [], payload.run_id)
        run_id = run.info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric(key, value, now, 0) for key, value in payload.metrics.items()],
            params=[Param(key, value) for key, value in payload.params.items()],
            tags=[RunTag(key, value) for key, value in payload.tags.items()],
        )
        store.update_run_info(run_id, RunStatus.FINISHED, int(time.time() * 1000), None)
    return len(payloads) / (time.perf_counter() - start)


def bench_mlflow(workdir: Path, payloads: list[RunPayload], repeats: int) -> dict[str, Any]:
    from mlflow.entities import ViewType

    store = _mlflow_store(workdir)
    experiment_id = store.create_experiment("bench")
    runs_per_s = record_mlflow(store, experiment_id, payloads)

    def search() -> Any:
        return store.search_runs(
            experiment_ids=[experiment_id],
            filter_string="metrics.auroc > 0.9",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
        )

    matches = len(search())
    timings = repeat_ms(search, repeats)
    store.engine.dispose()
    return {
        "runs": len(payloads),
        "runs_per_s": runs_per_s,
        "search": summary_ms(timings),
        "matches": matches,
    }


def run_recording(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    payloads = make_payloads(args.record_runs, args.seed)
    results: dict[str, Any] = {"expected_matches": expected_matches(payloads)}
    if not args.skip_mlflow:
        mlflow_payloads = payloads[: args.mlflow_runs]
        log(f"recording {len(mlflow_payloads)} runs into MLflow's SqlAlchemyStore (sqlite)")
        results["mlflow"] = bench_mlflow(workdir, mlflow_payloads, args.repeats)
        results["mlflow"]["expected_matches"] = expected_matches(mlflow_payloads)
        log(f"  MLflow: {results['mlflow']['runs_per_s']:.1f} runs/s")
    for backend in args.backends:
        log(f"recording {len(payloads)} runs into aimops on {backend}")
        with backend_url(backend, workdir, "record", args) as url:
            results[backend] = bench_aimops_recording(url, payloads, args.repeats)
        log(f"  aimops {backend}: {results[backend]['runs_per_s']:.1f} runs/s")
    return results


# -- part 2: a synthetic lineage graph ----------------------------------------------------


@dataclass(frozen=True)
class GraphShape:
    runs: int
    sources: int = 1000
    steps: int = 10
    pipelines: int = 20
    shared_every: int = 50  # 1 run in 50 publishes a shared dataset from its second step
    shared_read: float = 0.05  # a run's first step also reads a shared dataset
    source_read: float = 0.05  # a later step also reads a source dataset
    artifact_share: float = 0.3  # outputs that are artifacts rather than datasets


@dataclass
class Rows:
    """Rows for each table, in a loadable order (entities before what refers to them)."""

    entities: list[tuple[Any, ...]] = field(default_factory=list)
    edges: list[tuple[Any, ...]] = field(default_factory=list)
    aspects: list[tuple[Any, ...]] = field(default_factory=list)
    fields: list[tuple[Any, ...]] = field(default_factory=list)


class GraphBuilder:
    """Generates the graph's rows chunk by chunk, with entity ids assigned here."""

    ACTOR = "bench-loader"

    def __init__(self, shape: GraphShape, seed: int, tz_suffix: str, keep_flow: bool) -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.tz_suffix = tz_suffix
        self.next_id = 1
        self.source_ids: list[int] = []
        self.source_urns: list[str] = []
        self.shared_ids: list[int] = []
        self.pipeline_ids: list[int] = []
        self.counts = {"entities": 0, "edges": 0, "runs": 0, "aspects": 0, "aspect_fields": 0}
        self.flow: dict[int, list[int]] | None = {} if keep_flow else None
        self.base_time = datetime(2026, 1, 1, tzinfo=UTC)

    def stamp(self, minutes: float) -> str:
        moment = self.base_time + timedelta(minutes=minutes)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + self.tz_suffix

    def chunks(self, runs_per_chunk: int) -> Iterator[Rows]:
        yield self._prelude()
        for start in range(0, self.shape.runs, runs_per_chunk):
            rows = Rows()
            for index in range(start, min(start + runs_per_chunk, self.shape.runs)):
                self._run(rows, index)
            yield rows

    def _entity(self, rows: Rows, urn: str, entity_type: str, created: str) -> int:
        entity_id = self.next_id
        self.next_id += 1
        rows.entities.append((entity_id, urn, entity_type, created))
        self.counts["entities"] += 1
        return entity_id

    def _edge(self, rows: Rows, src: int, relation: str, dst: int, created: str) -> None:
        flow = flow_endpoints(relation, src=src, dst=dst)
        upstream, downstream = flow if flow else (None, None)
        rows.edges.append((src, relation, dst, upstream, downstream, self.ACTOR, created))
        self.counts["edges"] += 1
        if flow and self.flow is not None:
            self.flow.setdefault(flow[0], []).append(flow[1])

    def _aspect(
        self,
        rows: Rows,
        entity_id: int,
        aspect: str,
        value: dict[str, Any],
        entity_type: str,
        created: str,
    ) -> None:
        document = canonical_json(aspect, value, entity_type)
        rows.aspects.append((entity_id, aspect, 1, document, self.ACTOR, created))
        self.counts["aspects"] += 1
        for name, number, text in index_rows(aspect, json.loads(document)):
            rows.fields.append((entity_id, aspect, name, number, text))
            self.counts["aspect_fields"] += 1

    def _prelude(self) -> Rows:
        rows = Rows()
        created = self.stamp(-60)
        for index in range(self.shape.pipelines):
            name = f"pipe-{index:02d}"
            entity_id = self._entity(rows, f"urn:aim:pipeline:python/{name}", "pipeline", created)
            info = {"name": name, "orchestrator": "python"}
            self._aspect(rows, entity_id, "pipelineInfo", info, "pipeline", created)
            self.pipeline_ids.append(entity_id)
        for index in range(self.shape.sources):
            urn = f"urn:aim:dataset:source/src-{index:04d}"
            self.source_ids.append(self._entity(rows, urn, "dataset", created))
            self.source_urns.append(urn)
        return rows

    def _run(self, rows: Rows, index: int) -> None:
        shape = self.shape
        pipeline = index % shape.pipelines
        run_id = f"run-{index:06d}"
        key = f"python/pipe-{pipeline:02d}/{run_id}"
        created = self.stamp(index)
        run = self._entity(rows, f"urn:aim:run:{key}", "run", created)
        self._edge(rows, run, "partOf", self.pipeline_ids[pipeline], created)
        self._aspect(rows, run, "runInfo", self._run_info(pipeline, run_id, index), "run", created)
        self.counts["runs"] += 1
        outputs: list[list[int]] = []
        for step_index in range(shape.steps):
            step = self._entity(rows, f"urn:aim:step:{key}/step-{step_index}", "step", created)
            self._edge(rows, step, "partOf", run, created)
            for consumed in self._inputs(step_index, outputs):
                self._edge(rows, step, "consumed", consumed, created)
            produced = self._outputs(
                rows, f"pipe-{pipeline:02d}/{run_id}/step-{step_index}", created
            )
            if step_index == 1 and index % shape.shared_every == shape.shared_every - 1:
                urn = f"urn:aim:dataset:shared/features-{len(self.shared_ids):05d}"
                self.shared_ids.append(self._entity(rows, urn, "dataset", created))
                produced.append(self.shared_ids[-1])
            for output in produced:
                self._edge(rows, step, "produced", output, created)
            outputs.append(produced)

    def _run_info(self, pipeline: int, run_id: str, index: int) -> dict[str, Any]:
        started = self.base_time + timedelta(minutes=index)
        return {
            "pipeline": f"urn:aim:pipeline:python/pipe-{pipeline:02d}",
            "orchestrator": "python",
            "run_id": run_id,
            "status": "success" if index % 17 else "failed",
            "started_at": started,
            "ended_at": started + timedelta(minutes=3),
        }

    def _inputs(self, step_index: int, outputs: list[list[int]]) -> set[int]:
        rng, shape = self.rng, self.shape
        wanted = rng.randint(1, 3)
        if step_index == 0:
            chosen = set(rng.sample(self.source_ids, wanted))
            if self.shared_ids and rng.random() < shape.shared_read:
                chosen.add(rng.choice(self.shared_ids))
            return chosen
        chosen = {rng.choice(outputs[-1])}
        earlier = [item for produced in outputs for item in produced]
        while len(chosen) < wanted:
            if rng.random() < shape.source_read:
                chosen.add(rng.choice(self.source_ids))
            else:
                chosen.add(rng.choice(earlier))
            if len(chosen) >= len(set(earlier)):  # the run has no more outputs to offer
                break
        return chosen

    def _outputs(self, rows: Rows, key: str, created: str) -> list[int]:
        produced = []
        for number in range(self.rng.randint(1, 2)):
            kind = "artifact" if self.rng.random() < self.shape.artifact_share else "dataset"
            produced.append(self._entity(rows, f"urn:aim:{kind}:{key}/out-{number}", kind, created))
        return produced


TABLES = {  # Rows attribute: (table, columns), in load order
    "entities": ("aim_entities", ("id", "urn", "type", "created_at")),
    "edges": (
        "aim_edges",
        ("src_id", "relation", "dst_id", "flow_from", "flow_to", "actor", "created_at"),
    ),
    "aspects": ("aim_aspects", ("entity_id", "aspect", "version", "value", "actor", "created_at")),
    "fields": ("aim_aspect_fields", ("entity_id", "aspect", "field", "num_value", "text_value")),
}


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def load_sqlite(path: str, builder: GraphBuilder, runs_per_chunk: int) -> None:
    """executemany into the tables over a plain sqlite3 connection, foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "cache_size=-262144",
        ):
            conn.execute(f"PRAGMA {pragma}")
        for rows in builder.chunks(runs_per_chunk):
            conn.execute("BEGIN")
            for attribute, (table, columns) in TABLES.items():
                conn.executemany(insert_sql(table, columns), getattr(rows, attribute))
            conn.execute("COMMIT")
            log_progress(builder)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def load_postgres(url: str, builder: GraphBuilder, runs_per_chunk: int) -> None:
    """COPY into the tables, foreign keys checked; then fix the id sequence and analyze."""
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        for rows in builder.chunks(runs_per_chunk):
            with conn.cursor() as cursor:
                for attribute, (table, columns) in TABLES.items():
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in getattr(rows, attribute):
                            copy.write_row(row)
            conn.commit()
            log_progress(builder)
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('aim_entities', 'id'), "
            "(SELECT max(id) FROM aim_entities))"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")


def log_progress(builder: GraphBuilder) -> None:
    runs = builder.counts["runs"]
    if runs and runs % 10_000 == 0:
        log(f"    loaded {runs:,} runs, {builder.counts['edges']:,} edges")


def closure_size(flow: dict[int, list[int]], root: int, depth: int) -> int:
    """Nodes within ``depth`` flow edges of ``root`` (reference answer for small graphs)."""
    seen, frontier = {root}, [root]
    for _ in range(depth):
        frontier = [nxt for node in frontier for nxt in flow.get(node, ()) if nxt not in seen]
        frontier = list(dict.fromkeys(frontier))
        seen.update(frontier)
    return len(seen)


def bench_lineage(
    store: AimStore, builder: GraphBuilder, args: argparse.Namespace
) -> dict[str, Any]:
    rng = random.Random(args.seed + 1)
    picks = rng.sample(range(len(builder.source_urns)), args.lineage_sources + 1)
    warm, measured = picks[0], picks[1:]
    store.lineage(builder.source_urns[warm], direction="downstream", depth=10)
    timings: list[float] = []
    closure_timings: list[float] = []
    nodes: list[int] = []
    edges: list[int] = []
    mismatches: list[dict[str, Any]] = []
    for pick in measured:
        urn = builder.source_urns[pick]

        def closure(urn: str = urn) -> LineageGraph:
            return store.lineage(urn, direction="downstream", depth=10, edges=False)

        def walk(urn: str = urn) -> LineageGraph:
            return store.lineage(urn, direction="downstream", depth=10)

        closure_ms, reached = time_ms(closure)
        elapsed, graph = time_ms(walk)
        assert reached.nodes == graph.nodes, urn
        closure_timings.append(closure_ms)
        timings.append(elapsed)
        nodes.append(len(graph.nodes))
        edges.append(len(graph.edges))
        if builder.flow is not None:
            expected = closure_size(builder.flow, builder.source_ids[pick], 10)
            if expected != len(graph.nodes):
                mismatches.append({"urn": urn, "expected": expected, "got": len(graph.nodes)})
    result = summary_ms(timings)
    result["closure"] = summary_ms(closure_timings)
    result.update(
        median_nodes=statistics.median(nodes),
        median_us_per_node=statistics.median(
            1000 * ms / n for ms, n in zip(timings, nodes, strict=True)
        ),
        max_nodes=max(nodes),
        median_edges=statistics.median(edges),
        verified=builder.flow is not None,
        mismatches=mismatches,
    )
    return result


def bench_list_runs(store: AimStore, repeats: int, expected_newest: str) -> dict[str, Any]:
    page = list_runs(store, limit=100)
    assert len(page) == 100 and page[0]["run_id"] == expected_newest, page[:1]
    assert page[0]["status"] is not None, "runInfo aspect not found for the newest run"
    return summary_ms(repeat_ms(lambda: list_runs(store, limit=100), repeats))


def lineage_on(backend: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    AimStore.open(url, create=True, actor="bench").close()
    shape = GraphShape(runs=args.runs)
    builder = GraphBuilder(
        shape, args.seed, "" if backend == "sqlite" else "+00", keep_flow=args.runs <= 5000
    )
    loader = load_sqlite if backend == "sqlite" else load_postgres
    target = url.removeprefix("sqlite:///") if backend == "sqlite" else url
    start = time.perf_counter()
    loader(target, builder, runs_per_chunk=2000)
    load_s = time.perf_counter() - start
    counts = builder.counts
    log(f"  loaded {counts['entities']:,} entities, {counts['edges']:,} edges in {load_s:.0f} s")
    store = AimStore.open(url, actor="bench")
    try:
        result = {"shape": asdict(shape), "load_s": load_s, **builder.counts}
        result["lineage"] = bench_lineage(store, builder, args)
        result["list_runs"] = bench_list_runs(store, args.repeats, f"run-{args.runs - 1:06d}")
    finally:
        store.close()
    return result


def run_lineage(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results = {}
    for backend in args.backends:
        log(f"lineage graph of {args.runs:,} runs on {backend}")
        with backend_url(backend, workdir, "lineage", args) as url:
            results[backend] = lineage_on(backend, url, args)
        lineage = results[backend]["lineage"]
        closure = lineage["closure"]["median_ms"]
        log(
            f"  closure median {closure:.1f} ms, subgraph {lineage['median_ms']:.1f} ms, "
            f"{lineage['median_nodes']:.0f} nodes"
        )
    return results


# -- report -------------------------------------------------------------------------------

BACKENDS = ("sqlite", "postgres")
HEADER = (
    "measurement",
    "aimops sqlite",
    "aimops postgres",
    "MLflow sqlite",
    "anchor / goal",
    "ratio sqlite",
    "ratio postgres",
)


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None when any step is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def mark(ok: bool) -> str:
    return "OK" if ok else "MISS"


def throughput_ratio(rec: dict[str, Any], backend: str) -> str:
    """aimops runs/s over MLflow's (measured here) and over the earlier 16 runs/s anchor."""
    ours, theirs = dig(rec, backend, "runs_per_s"), dig(rec, "mlflow", "runs_per_s")
    if ours is None:
        return "-"
    vs_anchor = f"{ours / ANCHORS['mlflow_runs_per_s_earlier']:.0f}x 16 r/s"
    if theirs is None:
        return vs_anchor
    ratio = ours / theirs
    return f"{ratio:.1f}x MLflow {mark(ratio >= ANCHORS['record_speedup_vs_mlflow'])}; {vs_anchor}"


def latency_speedup(rec: dict[str, Any], backend: str, key: str) -> str:
    ours, theirs = dig(rec, backend, key, "median_ms"), dig(rec, "mlflow", "search", "median_ms")
    return "-" if ours is None or theirs is None else f"{theirs / ours:.1f}x faster than MLflow"


def matches_agree(rec: dict[str, Any], backend: str) -> str:
    """Whether aimops found the expected runs, and MLflow too (when it recorded as many)."""
    got, want = dig(rec, backend, "matches"), rec.get("expected_matches")
    if got is None:
        return "-"
    mlflow_got, mlflow_want = dig(rec, "mlflow", "matches"), dig(rec, "mlflow", "expected_matches")
    if got != want or mlflow_got != mlflow_want:
        return f"MISMATCH (expected {want}; MLflow expected {mlflow_want})"
    return "agree" if mlflow_got in (None, got) else "agree (MLflow on fewer runs)"


def recording_rows(rec: dict[str, Any]) -> list[list[str]]:
    def values(*path: str, digits: int = 1) -> list[str]:
        return [fmt(dig(rec, name, *path), digits) for name in (*BACKENDS, "mlflow")]

    runs = next((dig(rec, name, "runs") for name in BACKENDS if dig(rec, name, "runs")), None)
    goal = f">= {ANCHORS['record_speedup_vs_mlflow']:.0f}x MLflow (~16 r/s)"
    mlflow_runs = dig(rec, "mlflow", "runs")
    return [
        [
            f"record {fmt(runs)} runs, 1 run/tx (runs/s)",
            *values("runs_per_s"),
            goal,
            *(throughput_ratio(rec, name) for name in BACKENDS),
        ],
        ["MLflow timed on (runs)", "", "", fmt(mlflow_runs), "", "", ""],
        [
            "search metrics.auroc > 0.9 (median ms)",
            *values("search", "median_ms", digits=2),
            "faster than MLflow",
            *(latency_speedup(rec, name, "search") for name in BACKENDS),
        ],
        [
            "  same + latest metrics of matches (ms)",
            *values("search_and_fetch_metrics", "median_ms", digits=2)[:2],
            "(n/a)",
            "MLflow returns full runs",
            *(latency_speedup(rec, name, "search_and_fetch_metrics") for name in BACKENDS),
        ],
        [
            "  same, before ANALYZE (median ms)",
            *values("before_analyze", "search", "median_ms", digits=2)[:2],
            "",
            "stats as the writes left them",
            "",
            "",
        ],
        [
            "search matches",
            *values("matches"),
            f"agree: {fmt(rec.get('expected_matches'))}",
            *(matches_agree(rec, name) for name in BACKENDS),
        ],
    ]


def lineage_rows(lin: dict[str, Any]) -> list[list[str]]:
    def row(
        label: str, path: tuple[str, ...], digits: int, anchor: str = "", goal: float | None = None
    ) -> list[str]:
        found = [dig(lin, name, *path) for name in BACKENDS]
        ratios = [
            ""
            if goal is None or value is None
            else f"{value / goal:.2f}x goal {mark(value < goal)}"
            for value in found
        ]
        return [label, *(fmt(value, digits) for value in found), "", anchor, *ratios]

    edges = [dig(lin, name, "edges") for name in BACKENDS]
    edge_ratio = [
        "" if count is None else f"{count / ANCHORS['lineage_edges_in_issue']:.1f}x the issue's"
        for count in edges
    ]
    edge_row = row("graph: edges", ("edges",), 0, "~1,000,000 (issue)")
    return [
        row("graph: runs x 10 steps", ("runs",), 0, "100,000"),
        row("graph: entities", ("entities",), 0),
        [*edge_row[:5], *edge_ratio],
        row("graph: bulk load + ANALYZE (s)", ("load_s",), 1, "not a target"),
        row(
            "closure downstream d=10 (median ms)",
            ("lineage", "closure", "median_ms"),
            1,
            f"< {ANCHORS['lineage_median_ms']:.0f} ms",
            ANCHORS["lineage_median_ms"],
        ),
        row("closure downstream d=10 (p95 ms)", ("lineage", "closure", "p95_ms"), 1),
        row(
            "  + edges: subgraph (median ms)",
            ("lineage", "median_ms"),
            1,
            f"< {ANCHORS['lineage_median_ms']:.0f} ms",
            ANCHORS["lineage_median_ms"],
        ),
        row("  + edges: subgraph (p95 ms)", ("lineage", "p95_ms"), 1),
        row("lineage nodes returned (median)", ("lineage", "median_nodes"), 0, "a few thousand"),
        row("lineage cost per node (median us)", ("lineage", "median_us_per_node"), 1),
        row(
            "list_runs limit=100 (median ms)",
            ("list_runs", "median_ms"),
            2,
            f"< {ANCHORS['list_runs_median_ms']:.0f} ms",
            ANCHORS["list_runs_median_ms"],
        ),
    ]


def print_table(results: dict[str, Any]) -> None:
    rows = []
    if "recording" in results:
        rows += recording_rows(results["recording"])
    if "lineage" in results:
        rows += lineage_rows(results["lineage"])
    print(render_table(HEADER, rows, left=(0, 4, 5, 6)))


def store_environment(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    import sqlalchemy

    info = environment(
        sqlite=sqlite3.sqlite_version, sqlalchemy=sqlalchemy.__version__, mlflow=mlflow.__version__
    )
    info["git"] = git_state()
    if "postgres" in args.backends:
        with _pg_admin(args.pg_url) as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    return info


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("AIMOPS_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--record-runs", type=int, help="runs to record (default 2000)")
    parser.add_argument("--mlflow-runs", type=int, help="runs to record into MLflow (default: all)")
    parser.add_argument("--runs", type=int, help="runs in the lineage graph (default 100,000)")
    parser.add_argument("--repeats", type=int, help="repeats of each query (default 20)")
    parser.add_argument("--lineage-sources", type=int, help="source datasets walked (default 30)")
    parser.add_argument("--skip-recording", action="store_true")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-lineage", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite files here (default: temp)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    defaults = (200, 2000, 5, 10) if args.quick else (2000, 100_000, 20, 30)
    args.record_runs = args.record_runs or defaults[0]
    args.runs = args.runs or defaults[1]
    args.repeats = args.repeats or defaults[2]
    args.lineage_sources = args.lineage_sources or defaults[3]
    args.mlflow_runs = min(args.mlflow_runs or args.record_runs, args.record_runs)
    args.backends = names_from(parser, args.backends, BACKENDS, "backends")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": config_of(args),
        "anchors": ANCHORS,
        "environment": store_environment(args),
    }
    with working_directory(args.workdir, "aimops_bench_") as workdir:
        if not args.skip_recording:
            results["recording"] = run_recording(args, workdir)
        if not args.skip_lineage:
            results["lineage"] = run_lineage(args, workdir)
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_at_end"] = os.getloadavg()
    print()
    print_table(results)
    print(f"\ntotal {results['total_s']:.0f} s; results in {args.output}")
    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
