"""Airflow operators, the capture listener plugin and extra links (needs ``aimops[airflow]``)."""
