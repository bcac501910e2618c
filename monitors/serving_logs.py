"""Moved to :mod:`aimops.monitors.serving.logs`; this path stays for DAG files that use it."""

from __future__ import annotations

from aimops.monitors.serving.logs import (
    FEATURES_FILE,
    REQUESTS_FILE,
    ROOT_ENV,
    ServedDayFiles,
    day_folder,
    latest_day,
    serving_root,
)

__all__ = [
    "FEATURES_FILE",
    "REQUESTS_FILE",
    "ROOT_ENV",
    "ServedDayFiles",
    "day_folder",
    "latest_day",
    "serving_root",
]
