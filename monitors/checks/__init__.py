"""Monitoring checks: data quality, drift, feature consistency, service health and anomalies.

Each kind declares itself once in its own module (:mod:`aimops.monitors.checks.registry`);
:mod:`~aimops.monitors.checks.recording` records results as check entities and
:mod:`~aimops.monitors.checks.jobs` runs a check as one job (read, check, record, write its
page), which the operators and Prefect tasks wrap. Alerts, dashboard links and a model
version's reference data live here too.
"""
