"""Evaluation, fairness, comparison, data quality, drift, consistency and health checks.

Plain functions over arrays and data frames that return typed results and can record them in
the AIM store. Part of the core: never imports Airflow or Prefect.
"""
