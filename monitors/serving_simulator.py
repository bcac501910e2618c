"""Moved to :mod:`aimops.monitors.serving.simulator`; this path stays for DAG files that use
it."""

from __future__ import annotations

from aimops.monitors.serving.simulator import (
    ERROR_STATUSES,
    LOG_COLUMNS,
    MEDIAN_LATENCY_MS,
    P99_LATENCY_MS,
    ProbabilisticModel,
    ServingDay,
    simulate_serving_day,
)

__all__ = [
    "ERROR_STATUSES",
    "LOG_COLUMNS",
    "MEDIAN_LATENCY_MS",
    "P99_LATENCY_MS",
    "ProbabilisticModel",
    "ServingDay",
    "simulate_serving_day",
]
