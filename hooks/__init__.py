"""Airflow hooks: connections to the AIM store and to MLflow (needs ``aimops[airflow]``)."""
