"""One ramp analysis over a window of 1,000,000 served requests (part of lifecycle_bench.py).

The window: ``--ramp-requests`` requests (default 1,000,000) over ten minutes, 95% to the
champion ``churn/1`` and 5% to the challenger ``churn/2``, written as the serving log layout
has it (one window folder per version, :func:`aimops.monitors.serving.logs.window_folder`).
Each repetition starts a ramp of ``churn/2`` (not timed) and then times one
:func:`aimops.monitors.ramps.advance_ramp` at the end of the window: reading the window's
requests, the health gates of both versions, the checks and metrics recorded in the window, the
decision, the store's transaction and the traffic file. The read and the health gates are also
timed on their own. The first repetition is a warm-up. SQLite store. Goal: under 0.5 s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_support import fmt, log, render_table, summary_ms

GOAL_S = 0.5
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def _served(total: int, seed: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = {}
    for version, share in (("1", 0.95), ("2", 0.05)):
        count = int(total * share)
        seconds = np.sort(rng.random(count) * WINDOW.total_seconds())
        frames[version] = pd.DataFrame({
            "timestamp": pd.Timestamp(T0) + pd.to_timedelta(seconds, unit="s"),
            "model_version": f"churn/{version}",
            "latency_ms": rng.lognormal(np.log(40), 0.57, count),
            "status": np.where(rng.random(count) < 0.002, 500, 200),
        })  # fmt: skip
    return frames


def bench_ramp_analysis(workdir: Path, requests: int, repeats: int, seed: int) -> dict[str, Any]:
    """The figures of one ramp analysis over ``requests`` served requests."""
    from aimops.metadata import AimStore
    from aimops.metadata.lifecycle.routers import FileRouter
    from aimops.metadata.recording import record_model_version
    from aimops.monitors.ramps import abort_ramp, advance_ramp, start_ramp
    from aimops.monitors.ramps.analysis import analyze_requests
    from aimops.monitors.serving.logs import read_window, window_folder

    root = workdir / "serving"
    frames = _served(requests, seed)
    for version, frame in frames.items():
        folder = window_folder(f"churn/{version}", T0, T0 + WINDOW, root=root)
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / "requests.parquet", index=False)
        frame.head(0).to_parquet(folder / "features.parquet", index=False)
    store = AimStore.open(f"sqlite:///{workdir / 'ramp.db'}", create=True, actor="bench")
    router = FileRouter(workdir / "traffic")
    options: dict[str, Any] = {"router": router, "mlflow": False}
    for number in (1, 2):
        record_model_version(store, "churn", number)
        store.put_aspect(f"urn:aim:modelVersion:churn/{number}", "lifecycle", {
            "state": "published", "transition": "publish", "previous": "publishable",
            "actor": "bench", "at": T0})  # fmt: skip
    start_ramp(store, "churn/1", bake_time=0, now=T0 - WINDOW, **options)
    first = advance_ramp(store, "churn/1", now=T0, requests=frames["1"].head(1000), **options)
    assert first.did == "promoted", first
    advance_ms, read_ms, gates_ms, served = [], [], [], 0
    for index in range(repeats + 1):
        start_ramp(store, "churn/2", bake_time=WINDOW, now=T0, **options)
        began = time.perf_counter()
        done = advance_ramp(store, "churn/2", now=T0 + WINDOW, serving_root=root, **options)
        elapsed = (time.perf_counter() - began) * 1000
        assert done.did == "advanced", (done.did, done.analysis)
        served = sum(done.analysis["requests"].values())
        abort_ramp(store, "churn/2", **options)
        began = time.perf_counter()
        frame = read_window("churn", ["1", "2"], T0, T0 + WINDOW, root=root)
        read = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        analyze_requests(frame, challenger="churn/2", champion="churn/1")
        gates = (time.perf_counter() - began) * 1000
        if index:  # the first is a warm-up
            advance_ms.append(elapsed)
            read_ms.append(read)
            gates_ms.append(gates)
    store.close()
    result = {
        "requests": served,
        "advance_ramp": summary_ms(advance_ms),
        "read_window": summary_ms(read_ms),
        "health_gates": summary_ms(gates_ms),
        "goal_s": GOAL_S,
    }
    log(f"  ramp analysis over {served:,} requests: median "
        f"{result['advance_ramp']['median_ms']:.0f} ms")  # fmt: skip
    return result


def print_ramp_table(figures: dict[str, Any]) -> None:
    """The ramp analysis figures beside the goal."""
    median = figures["advance_ramp"]["median_ms"]
    rows = [
        [f"advance_ramp: one analysis over {figures['requests']:,} requests",
         fmt(median), fmt(figures["advance_ramp"]["p95_ms"]), f"< {GOAL_S * 1000:.0f}",
         "yes" if median < GOAL_S * 1000 else "NO"],
        ["  of which: read_window (the window's requests)",
         fmt(figures["read_window"]["median_ms"]), fmt(figures["read_window"]["p95_ms"]), "",
         ""],
        ["  of which: health gates of both versions",
         fmt(figures["health_gates"]["median_ms"]), fmt(figures["health_gates"]["p95_ms"]),
         "", ""],
    ]  # fmt: skip
    print(render_table(["ramp analysis (sqlite, ms)", "median", "p95", "goal", "met?"], rows,
                       left=(0, -1)))  # fmt: skip
