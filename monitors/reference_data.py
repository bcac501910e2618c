"""Moved to :mod:`aimops.monitors.checks.reference_data`; this path stays for DAG files that
use it."""

from __future__ import annotations

from aimops.monitors.checks.reference_data import (
    FILE_NAME,
    REFERENCE_KIND,
    load_reference,
    register_reference,
)

__all__ = ["FILE_NAME", "REFERENCE_KIND", "load_reference", "register_reference"]
