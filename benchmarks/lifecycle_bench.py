"""Benchmark of lifecycle transitions in a store of realistic size.

Run: ``.venv/bin/python benchmarks/lifecycle_bench.py`` (``--quick`` for a smoke run, ``--help``).

The store: ``--runs`` runs (default 100,000) of 20 pipelines, each run with ``runInfo``,
``params`` (8 keys), ``metrics`` (6 keys) and ``tags`` (3 keys) and two steps with ``stepInfo``,
``partOf`` edges from step to run and run to pipeline, written in bulk (``put_entities``,
``put_many``, ``put_edges`` in one transaction per 2,000 runs). Then the model ``churn``:
version 1 is the published champion (reviewed on evidence, approved by another actor,
published), and ``--candidates`` candidate versions are each produced by a step of a run and
have, in this order, noise (an ungated evaluation, a gated evaluation that failed, a failing
data-quality check), then a passing gated evaluation, a passing data-quality check and a
passing comparison with the champion. Another model, ``fraud``, gets evaluations and checks of
its own (more noise in the same tables). The store is ANALYZEd after seeding.

Measured, one call per candidate (each call moves a different version, as in production),
with :func:`aimops.metadata.lifecycle.transition` (``mlflow=False``; no page is written):
``request_review`` (the default evidence policy: evaluations, checks, the champion and the
comparison), ``approve`` by policy (the evidence judged again), ``publish`` and
``deprecate``. The phases run in that order over all candidates, so the champion stays
version 1 while the evidence is judged. The first call of each phase is a warm-up and is not
counted. Goal: median < 10 ms per transition.

Then one ramp analysis over a window of 1,000,000 served requests (goal: under 0.5 s; see
``benchmarks/ramp_analysis.py``; ``--ramp-requests`` to change the size).

SQLite always; PostgreSQL from ``$AIMOPS_BENCH_POSTGRES_URL`` or ``$AIMOPS_TEST_POSTGRES_URL``,
else ``postgresql://postgres@127.0.0.1:5432/postgres`` when it answers (a throwaway database
``aimops_bench_lifecycle_*``, dropped at the end); skipped with a note when unreachable.
Figures are printed and written as JSON (``--json``, default
``benchmarks/results/lifecycle_bench.json``).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
    write_figures,
)
from ramp_analysis import bench_ramp_analysis, print_ramp_table

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from aimops.errors import GateFailedError
from aimops.metadata import AimStore
from aimops.metadata.lifecycle import transition
from aimops.metadata.recording import record_model_version
from aimops.metadata.urns import pipeline_urn, run_urn, step_urn

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "lifecycle_bench.json"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgres")
GOAL_MEDIAN_MS = 10.0
#: The transitions measured, in the order they run, with how each is called.
PHASES: dict[str, dict[str, Any]] = {
    "request_review": {"actor": "ana"},
    "approve": {"policy": "default"},
    "publish": {"actor": "bob"},
    "deprecate": {"actor": "bob", "reason": "benchmark"},
}
PIPELINES = 20
STEPS = ("prepare", "train")


# -- seeding ------------------------------------------------------------------------------


def seed_runs(store: AimStore, runs: int, seed: int, chunk: int = 2000) -> list[str]:
    """``runs`` runs with their aspects, steps and ``partOf`` edges, in bulk; the URNs of the
    ``train`` steps of the last 100 runs (what the model versions are produced by)."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    pipelines = [pipeline_urn("airflow", f"pipe-{index:02d}") for index in range(PIPELINES)]
    with store.transaction() as tx:
        tx.put_many(
            (urn, "pipelineInfo", {"name": urn.segments[1], "orchestrator": "airflow"})
            for urn in pipelines
        )
    trains: list[str] = []
    for start in range(0, runs, chunk):
        entities, aspects, edges = [], [], []
        for index in range(start, min(start + chunk, runs)):
            pipeline = pipelines[index % PIPELINES]
            run = run_urn("airflow", pipeline.segments[1], f"scheduled__{index:07d}")
            started = base + timedelta(minutes=index)
            status = "failed" if index % 17 == 0 else "success"
            entities.append(run)
            edges.append((run, "partOf", pipeline))
            aspects += [
                (run, "runInfo", {
                    "pipeline": str(pipeline), "orchestrator": "airflow",
                    "run_id": run.segments[2], "status": status, "native_state": status,
                    "started_at": started, "ended_at": started + timedelta(minutes=3),
                    "run_type": "scheduled",
                }),
                (run, "params", {f"param_{k}": rng.choice(["adam", "sgd", "0.1", "0.01"])
                                 for k in range(8)}),
                (run, "metrics", {f"metric_{k}": round(rng.uniform(0, 1), 4) for k in range(6)}),
                (run, "tags", {"team": rng.choice(["risk", "growth"]), "env": "prod",
                               "owner": f"user{rng.randrange(50)}"}),
            ]  # fmt: skip
            for task in STEPS:
                step = step_urn("airflow", pipeline.segments[1], run.segments[2], task)
                entities.append(step)
                edges.append((step, "partOf", run))
                aspects.append((step, "stepInfo", {
                    "task_id": task, "operator": "PythonOperator", "state": status,
                    "native_state": status, "started_at": started,
                    "ended_at": started + timedelta(minutes=1),
                }))  # fmt: skip
                if task == "train" and index >= runs - 100:
                    trains.append(str(step))
        with store.transaction() as tx:
            tx.put_entities(entities)
            tx.put_many(aspects)
            tx.put_edges(edges)
        if start == 0 or (start + chunk) % 20_000 == 0:  # plans made on an empty table's
            analyze(store)  # statistics turn the next chunks' lookups into scans
        if (start + chunk) % 20_000 == 0:
            log(f"    {start + chunk:,} runs written")
    return trains


def predictions(rng: random.Random, rows: int = 500, noise: float = 0.5) -> Any:
    """A labelled table whose ``score`` separates the labels (AUROC well above 0.8)."""
    import pandas as pd

    labels = [rng.randint(0, 1) for _ in range(rows)]
    scores = [min(1.0, 0.5 * label + rng.uniform(0, noise)) for label in labels]
    return pd.DataFrame({"label": labels, "score": scores})


def seed_model(store: AimStore, candidates: int, trains: list[str], seed: int) -> list[str]:
    """The model ``churn``: version 1 published, ``candidates`` versions with the evidence a
    review needs (after some noise); and ``fraud`` with evaluations and checks. Returns the
    candidates' URNs."""
    from aimops.monitors.checks.jobs import run_data_quality
    from aimops.monitors.evaluation.jobs import compare_models, evaluate_model

    rng = random.Random(seed)
    passing = [{"expect": "not_null", "column": "label"}]
    failing = [{"expect": "not_null", "column": "gap"}]

    def evaluation(version: Any, table: Any, gated: bool = True, bound: float = 0.8) -> None:
        with suppress(GateFailedError):  # recorded, then raised: the noise we want
            evaluate_model(store, model_version=version, predictions=table, report_dir=None,
                           min_metrics={"auroc": bound} if gated else None,
                           dataset_name="holdout")  # fmt: skip

    def quality(version: Any, table: Any, suite: list[dict[str, Any]]) -> None:
        with suppress(GateFailedError):
            run_data_quality(store, table, suite, model_version=version, report_dir=None)

    def evidence(version: Any) -> None:
        table = predictions(rng)
        evaluation(version, table)
        quality(version, table, passing)

    champion = record_model_version(store, "churn", 1, produced_by=trains[0])
    evidence(champion)
    transition(store, champion, "request_review", actor="alice", mlflow=False)
    transition(store, champion, "approve", actor="bob", mlflow=False)
    transition(store, champion, "publish", actor="bob", mlflow=False)
    found = []
    for number in range(2, candidates + 2):
        version = record_model_version(
            store, "churn", number, uri=f"s3://models/churn/{number}", framework="sklearn",
            produced_by=trains[number % len(trains)],
        )  # fmt: skip
        table = predictions(rng)
        evaluation(version, table, gated=False)  # no gates: no evidence
        evaluation(version, table, bound=0.9999)  # an older gated evaluation that failed
        quality(version, table.assign(gap=None), failing)  # an older failing check
        evidence(version)
        jitter = [rng.uniform(-0.05, 0.05) for _ in range(len(table))]
        pair = table.assign(champion=table.score, challenger=(table.score + jitter).clip(0, 1))
        compare_models(
            store, model_versions=[champion, version], predictions=pair,
            score_columns={"churn/1": "champion", f"churn/{number}": "challenger"},
            min_metrics={"auroc": 0.8}, n_bootstrap=100, report_dir=None, dataset_name="holdout",
        )  # fmt: skip
        found.append(str(version))
    for number in range(1, 6):  # another model's records in the same tables
        other = record_model_version(store, "fraud", number)
        for _ in range(3):
            evaluation(other, predictions(rng))
            quality(other, predictions(rng), passing)
    return found


def analyze(store: AimStore) -> None:
    """Refresh the planner's statistics (autovacuum would, some time after the writes)."""
    with store.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


# -- measuring ----------------------------------------------------------------------------


def measure(store: AimStore, versions: list[str]) -> dict[str, Any]:
    """Each phase over every version; the first call of a phase is a warm-up."""
    results: dict[str, Any] = {}
    for action, options in PHASES.items():
        samples = []
        for index, version in enumerate(versions):
            start = time.perf_counter()
            done = transition(store, version, action, mlflow=False, **options)
            elapsed = (time.perf_counter() - start) * 1000
            assert done.transition == action, done
            if index:
                samples.append(elapsed)
        results[action] = summary_ms(samples)
        log(f"    {action}: median {results[action]['median_ms']:.2f} ms")
    return results


def bench_backend(url: str, args: argparse.Namespace) -> dict[str, Any]:
    store = AimStore.open(url, create=True, actor="bench")
    try:
        started = time.perf_counter()
        trains = seed_runs(store, args.runs, args.seed)
        runs_s = time.perf_counter() - started
        log(f"  {args.runs:,} runs in {runs_s:.1f} s")
        started = time.perf_counter()
        versions = seed_model(store, args.candidates + 1, trains, args.seed)
        model_s = time.perf_counter() - started
        log(f"  the model and its evidence in {model_s:.1f} s")
        started = time.perf_counter()
        analyze(store)
        analyze_s = time.perf_counter() - started
        counts = table_counts(store)
        return {
            "seed_runs_s": runs_s,
            "seed_model_s": model_s,
            "analyze_s": analyze_s,
            "counts": counts,
            "transitions": measure(store, versions),
        }
    finally:
        store.close()


def table_counts(store: AimStore) -> dict[str, int]:
    counts = {}
    with store.engine.connect() as connection:
        for table in ("aim_entities", "aim_aspects", "aim_aspect_fields", "aim_edges"):
            counts[table] = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
    return counts


# -- backends -----------------------------------------------------------------------------


def postgres_admin_url() -> str:
    for name in ("AIMOPS_BENCH_POSTGRES_URL", "AIMOPS_TEST_POSTGRES_URL"):
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return DEFAULT_PG_URL


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_database(admin: str, keep: bool) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards (unless ``keep``)."""
    import psycopg

    name = f"aimops_bench_lifecycle_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        if not keep:
            with psycopg.connect(_libpq(admin), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_problem(admin: str) -> str | None:
    """Why PostgreSQL cannot be used (None when it answers)."""
    try:
        import psycopg

        with psycopg.connect(_libpq(admin), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # the driver's, the network's: say it and skip
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


@contextmanager
def backend_url(backend: str, workdir: Path, args: argparse.Namespace) -> Iterator[str]:
    if backend == "sqlite":
        path = workdir / "lifecycle.db"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
    else:
        with postgres_database(args.pg_url, args.keep) as url:
            yield url


# -- report -------------------------------------------------------------------------------


def dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def print_table(results: dict[str, Any]) -> None:
    backends = results["backends"]
    header = ["transition (ms)"]
    for backend in BACKENDS:
        header += [f"{backend} median", f"{backend} p95"]
    header += ["goal", "met?"]
    rows = []
    for action in PHASES:
        row = [action]
        met = []
        for backend in BACKENDS:
            median = dig(backends, backend, "transitions", action, "median_ms")
            row += [fmt(median), fmt(dig(backends, backend, "transitions", action, "p95_ms"))]
            if median is not None:
                met.append(f"{backend} {'yes' if median < GOAL_MEDIAN_MS else 'NO'}")
        rows.append([*row, f"median < {GOAL_MEDIAN_MS:.0f}", ", ".join(met)])
    seeding = ["seeding (s): runs / model / analyze"]
    for backend in BACKENDS:
        parts = [
            dig(backends, backend, key) for key in ("seed_runs_s", "seed_model_s", "analyze_s")
        ]
        seeding += ["-" if None in parts else " / ".join(f"{p:.1f}" for p in parts), ""]
    rows.append([*seeding, "not a target", ""])
    print(render_table(header, rows, left=(0, -2, -1)))
    for backend in BACKENDS:
        counts = dig(backends, backend, "counts")
        if counts:
            print(f"{backend}: " + ", ".join(f"{table} {fmt(n)}" for table, n in counts.items()))
    for note in results.get("notes", []):
        print(f"note: {note}")


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--pg-url", default=postgres_admin_url(), help="PostgreSQL server URL")
    parser.add_argument("--runs", type=int, help="runs in the store (default 100,000)")
    parser.add_argument("--candidates", type=int, help="versions measured (default 40)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite file here (default: temp)")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUTPUT, help="write figures here")
    parser.add_argument("--ramp-requests", type=int, help="requests in the ramp analysis' window")
    args = parser.parse_args(argv)
    args.runs = args.runs or (2000 if args.quick else 100_000)
    args.candidates = args.candidates or (8 if args.quick else 40)
    args.ramp_requests = args.ramp_requests or (100_000 if args.quick else 1_000_000)
    args.backends = names_from(parser, args.backends, BACKENDS, "backends")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": config_of(args),
        "goal_median_ms": GOAL_MEDIAN_MS,
        "environment": environment(),
        "backends": {},
        "notes": [],
    }
    results["environment"]["git"] = git_state()
    results["config"]["pg_url"] = args.pg_url.rpartition("@")[2]  # no credentials in the file
    with working_directory(args.workdir, "aimops_lifecycle_bench_") as workdir:
        for backend in args.backends:
            if backend == "postgres":
                problem = postgres_problem(args.pg_url)
                if problem is not None:
                    note = (
                        f"PostgreSQL skipped: {results['config']['pg_url']} unreachable ({problem})"
                    )
                    print(note)
                    results["notes"].append(note)
                    continue
            log(f"{backend}: {args.runs:,} runs, {args.candidates} measured candidates")
            with backend_url(backend, workdir, args) as url:
                results["backends"][backend] = bench_backend(url, args)
        log(f"ramp analysis: {args.ramp_requests:,} requests in one window")
        results["ramp_analysis"] = bench_ramp_analysis(
            workdir, args.ramp_requests, 3 if args.quick else 7, args.seed
        )
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_at_end"] = os.getloadavg()
    print()
    print_table(results)
    print()
    print_ramp_table(results["ramp_analysis"])
    print(f"\ntotal {results['total_s']:.0f} s")
    write_figures(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
