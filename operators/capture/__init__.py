"""The Airflow capture listener: what it reads from DAGs, DAG runs and task instances, turned
into the capture events of :mod:`aimops.metadata.capture`."""
