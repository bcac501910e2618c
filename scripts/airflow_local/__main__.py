"""``python -m airflow_local ...``: see :mod:`airflow_local.cli`."""

from airflow_local.cli import main

raise SystemExit(main())
