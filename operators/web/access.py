"""Who may read what the aimops pages show: Airflow's own access rules, asked per DAG.

Airflow does not protect plugin apps, so the pages ask it themselves (see
:mod:`aimops.operators.web.app` for the rules as a user meets them):

- an entity keyed ``airflow/<dag_id>/<run_id>/<task_id>[/...]`` (the operators' default key)
  is asked about the DAG its key names, before the store is read: 403 for a user who may not
  read that DAG, whether the entity exists or not;
- an entity a DAG's task produced (its ``producedBy`` edge leads to an Airflow step) is shown
  only to a user who may read that DAG; to anyone else it answers the 404 of a missing one;
- an entity with neither (a notebook's, a Prefect flow's) is shown to any signed-in user.

Example:
    >>> from aimops.metadata.urns import Urn
    >>> keyed_dag(Urn.parse("urn:aim:evaluation:airflow/churn/manual__1/evaluate"))
    'churn'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn


def keyed_dag(urn: Urn) -> str | None:
    """The DAG the key of the evaluation ``urn`` names, when it is shaped as a task's identity
    (``airflow/<dag_id>/<run_id>/<task_id>[/...]``, the operators' default key), else None.

    The fingerprint URN of an evaluation of a model named ``airflow`` (``airflow/<version>/
    <fingerprint>``) names no DAG: it has three segments, a task's identity at least four.

    Example:
        >>> from aimops.metadata.urns import Urn
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:airflow/churn/manual__1/evaluate"))
        'churn'
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:weekly/churn")) is None
        True
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:airflow/3/0123456789abcdef")) is None
        True
    """
    if len(urn.segments) >= 4 and urn.segments[0] == "airflow":
        return urn.segments[1]
    return None


def producing_dags(store: AimStore, urn: Urn) -> set[str]:
    """The DAGs whose tasks produced the evaluation ``urn``: its ``producedBy`` edges to
    Airflow steps (``urn:aim:step:airflow/<dag_id>/<run_id>/<task_id>[/<map_index>]``).
    Empty when nothing in Airflow produced it, or it is not recorded."""
    from aimops.metadata.urns import ORCHESTRATED_TYPES, Urn

    dags: set[str] = set()
    for producer in store.related(urn, "producedBy"):
        if producer.type in ORCHESTRATED_TYPES:
            segments = Urn.parse(producer.urn).segments
            if segments[0] == "airflow":
                dags.add(segments[1])
    return dags


def may_read_dag(user: Any, dag_id: str) -> bool:
    """Whether Airflow's auth manager lets ``user`` read the DAG ``dag_id``, decided as the
    REST API's ``requires_access_dag("GET")`` does (the team owning the DAG's bundle included)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.models.dag import DagModel

    details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    return bool(get_auth_manager().is_authorized_dag(method="GET", details=details, user=user))


def readable_entity(
    open_store: Callable[[], AimStore | None],
    text: str,
    kind: str,
    may_read: Callable[[str], bool],
) -> tuple[int, str] | tuple[AimStore, Urn]:
    """(store, URN) when the user may read the ``kind`` ``text`` names, else (status, why):
    the DAG its key names is asked before the store is opened, then the DAGs that produced
    it; one that may not read them gets the answer of a missing one."""
    parsed = _urn_of(text, kind)
    if isinstance(parsed, str):
        return 400, parsed
    dag_id = keyed_dag(parsed)
    if dag_id is not None and not may_read(dag_id):
        return 403, f"{parsed} was recorded by the DAG {dag_id!r}, which you may not read"
    store = open_store()
    if store is None:
        return 503, "the AIM store cannot be opened right now; try again in a minute"
    if not all(may_read(producer) for producer in producing_dags(store, parsed) - {dag_id}):
        return not_yours(kind, parsed)
    return store, parsed


def not_yours(kind: str, urn: Urn) -> tuple[int, str]:
    """The answer for an entity the user may not read: the very 404 of a missing one."""
    return 404, f"no {_WORDS.get(kind, kind)} {urn} that you may read is recorded in the AIM store"


#: Entity types as a sentence names them.
_WORDS = {"modelVersion": "model version"}


def _urn_of(text: str, kind: str) -> Urn | str:
    """``text`` as a URN of ``kind``, or why it is not one."""
    from aimops.errors import InvalidInputError
    from aimops.metadata.urns import Urn

    try:
        parsed = Urn.parse(text)
    except InvalidInputError as exc:
        return f"not an {kind} URN: {exc}" if kind[0] in "aeiou" else f"not a {kind} URN: {exc}"
    if parsed.type != kind:
        return (
            f"{parsed} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} URN (urn:aim:{kind}:...)"
        )
    return parsed
