"""Served requests: the reader of a fleet's request logs and feature snapshots, by day or by
window of time (which owns their file names, :mod:`~aimops.monitors.serving.logs`), and
faithful simulators of such a fleet for demos and tests: a day of one version
(:mod:`~aimops.monitors.serving.simulator`) and a window of traffic split across versions by
weights (:mod:`~aimops.monitors.serving.windows`).

Example:
    >>> from aimops.monitors.serving import read_window, simulate_serving_window
    >>> read_window.__module__, simulate_serving_window.__module__
    ('aimops.monitors.serving.logs', 'aimops.monitors.serving.windows')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.monitors.serving.logs import (
        day_folder,
        latest_day,
        read_window,
        serving_root,
        window_folder,
    )
    from aimops.monitors.serving.simulator import ServingDay, simulate_serving_day
    from aimops.monitors.serving.windows import simulate_serving_window

_LAZY = {
    "ServingDay": "aimops.monitors.serving.simulator",
    "day_folder": "aimops.monitors.serving.logs",
    "latest_day": "aimops.monitors.serving.logs",
    "read_window": "aimops.monitors.serving.logs",
    "serving_root": "aimops.monitors.serving.logs",
    "simulate_serving_day": "aimops.monitors.serving.simulator",
    "simulate_serving_window": "aimops.monitors.serving.windows",
    "window_folder": "aimops.monitors.serving.logs",
}

__getattr__ = lazy_attributes("aimops.monitors.serving", _LAZY)

__all__ = [
    "ServingDay",
    "day_folder",
    "latest_day",
    "read_window",
    "serving_root",
    "simulate_serving_day",
    "simulate_serving_window",
    "window_folder",
]
