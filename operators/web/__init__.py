"""aimops' pages inside Airflow's API server: where they are (:mod:`~aimops.operators.web.urls`),
who may read them (:mod:`~aimops.operators.web.access`), what they answer
(:mod:`~aimops.operators.web.pages`) and the app the plugin mounts
(:mod:`~aimops.operators.web.app`)."""
