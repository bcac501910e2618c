"""Prefect tasks, flows, blocks and run capture (needs ``aimops[prefect]``)."""
