"""What the capture reads from a DAG: opt-in, project, and the pipeline's definition.

Works alike on a Task SDK DAG (in a task's process) and a ``SerializedDAG`` (the scheduler),
so both write the same pipeline record and it gains no spurious versions.

Example:
    >>> class Dag:
    ...     dag_id, tags = "train", {"aimops", "aimops:project=churn"}
    >>> opted_in(Dag()), project_of(Dag())
    (True, 'churn')
"""

from __future__ import annotations

from typing import Any

OPT_IN_TAG = "aimops"
PROJECT_TAG_PREFIX = "aimops:project="


def opted_in(dag: Any) -> bool:
    """True when the DAG carries the ``aimops`` tag."""
    return dag is not None and OPT_IN_TAG in set(getattr(dag, "tags", None) or ())


def project_of(dag: Any) -> str:
    """The project a ``aimops:project=<name>`` tag names; the DAG id without one."""
    for tag in sorted(getattr(dag, "tags", None) or ()):
        if tag.startswith(PROJECT_TAG_PREFIX) and tag[len(PROJECT_TAG_PREFIX) :].strip():
            return str(tag[len(PROJECT_TAG_PREFIX) :].strip())
    return str(dag.dag_id)


def pipeline_fields(dag: Any) -> dict[str, Any]:
    """The ``record_pipeline`` arguments of a DAG (orchestrator aside)."""
    return {
        "name": dag.dag_id,
        "project": project_of(dag),
        "description": first_line(getattr(dag, "description", None) or _doc(dag)),
        "owner": _owners(dag),
        "schedule": _schedule(dag),
        "file": getattr(dag, "fileloc", None) or None,
    }


def pipeline_tasks(dag: Any) -> list[dict[str, Any]]:
    """Every task with its operator, the tasks it waits for, and the first line of its docs."""
    tasks = []
    for task_id, task in sorted((getattr(dag, "task_dict", None) or {}).items()):
        tasks.append(
            {
                "task_id": task_id,
                "operator": operator_name(task),
                "upstream": sorted(getattr(task, "upstream_task_ids", ()) or ()),
                "doc": first_line(_doc(task)),
            }
        )
    return tasks


def operator_name(task: Any) -> str | None:
    """The operator's class path, the same from a live task and from a serialized one."""
    if task is None:
        return None
    module = getattr(task, "_task_module", None)
    task_type = getattr(task, "task_type", None)
    if module and task_type:  # a serialized operator (scheduler) names the original class
        return f"{module}.{task_type}"
    kind = type(task)
    return f"{kind.__module__}.{kind.__qualname__}"


def _owners(dag: Any) -> str | None:
    # Airflow joins the tasks' owners from a set: sort them, or every process differs.
    owners = {o.strip() for o in str(getattr(dag, "owner", "") or "").split(",") if o.strip()}
    return ", ".join(sorted(owners)) or None


def _schedule(dag: Any) -> str | None:
    timetable = getattr(dag, "timetable", None)
    summary = getattr(timetable, "summary", None)
    if summary:
        return None if str(summary) == "None" else str(summary)
    schedule = getattr(dag, "schedule", None)
    return str(schedule) if schedule is not None else None


def _doc(node: Any) -> str | None:
    for attribute in ("doc_md", "doc", "description"):
        value = getattr(node, attribute, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


def first_line(text: str | None) -> str | None:
    """The first non-empty line of ``text`` without Markdown heading marks, capped."""
    if not text:
        return None
    for line in text.strip().splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return None
