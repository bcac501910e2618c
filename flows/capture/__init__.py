"""Prefect capture: ``@tracked`` flows, the capture engine that watches their task runs, and the
records it turns into capture events (see :mod:`aimops.flows.capture.tracked`)."""
