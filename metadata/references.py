"""References a task returns to say what it produced: data sets, artifacts, model versions.

A reference is a small JSON document (a plain ``dict``, so Airflow's XCom and Prefect's
results carry it as is) naming an AIM entity. Return one from any ``PythonOperator`` or
``@task``, or a list or dict of them, and the capture records a ``produced`` edge from the
step to the entity; a downstream task that receives it as an argument gets a ``consumed``
edge. Only references the task made itself count as produced (one it received and passes on
is not), so capture keeps those made in the process since the task started and matches
them against the return value.

Example:
    >>> ref = dataset_ref("churn-train", uri="file:///data/train.parquet", rows=800)
    >>> ref["urn"]
    'urn:aim:dataset:churn-train'
    >>> is_reference(ref)
    True
    >>> [r["urn"] for r in find_references({"model": model_version_ref("churn", 3)})]
    ['urn:aim:modelVersion:churn/3']
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata.urns import artifact_urn, dataset_urn, model_version_urn

MARKER = "aimops_ref"
KINDS = ("dataset", "artifact", "modelVersion")
MAX_DEPTH = 4
MAX_CHILDREN = 256  # per container: a large input is data, not a list of references
MAX_DECLARED = 10_000

Reference = dict[str, Any]

_declared: list[Reference] = []
_declared_lock = threading.Lock()


def dataset_ref(
    name: str,
    *,
    uri: str | None = None,
    format: str | None = None,
    rows: int | None = None,
    columns: Sequence[str] | None = None,
    description: str | None = None,
) -> Reference:
    """A reference to the data set ``name``; the name is its identity, as in ``record_dataset``."""
    _segments(name, "data set name")
    urn = dataset_urn(name)
    validation.optional_whole_number(rows, f"rows of data set {name!r}", minimum=0)
    return _declare(
        {
            MARKER: "dataset",
            "urn": str(urn),
            "name": name,
            "uri": validation.optional_text(uri, "uri"),
            "format": validation.optional_text(format, "format"),
            "rows": rows,
            "columns": list(validation.texts(columns, "columns")) if columns is not None else None,
            "description": validation.optional_text(description, "description"),
        }
    )


def artifact_ref(
    name: str,
    *,
    uri: str | None = None,
    kind: str = "file",
    media_type: str | None = None,
    size_bytes: int | None = None,
    checksum: str | None = None,
    key: Sequence[str] | None = None,
) -> Reference:
    """A reference to an artifact; ``key`` segments name it (default: the name, as
    ``record_artifact`` does).

    Give a key that is unique to what you made (``["churn", run_id, "model.skops"]``) when
    the same name recurs across runs and you want one artifact per run.
    """
    _segments(name, "artifact name")
    segments = list(validation.texts(key, "artifact key")) if key is not None else [name]
    if not segments or not all(segments):
        raise InvalidInputError(f"artifact key must be non-empty text segments, not {key!r}")
    validation.optional_whole_number(size_bytes, f"size_bytes of artifact {name!r}", minimum=0)
    return _declare(
        {
            MARKER: "artifact",
            "urn": str(artifact_urn(*segments)),
            "name": name,
            "uri": validation.optional_text(uri, "uri"),
            "kind": validation.text(kind, f"kind of artifact {name!r}", empty=False),
            "media_type": validation.optional_text(media_type, "media_type"),
            "size_bytes": size_bytes,
            "checksum": validation.optional_text(checksum, "checksum"),
        }
    )


def model_version_ref(
    model: str,
    version: str | int,
    *,
    uri: str | None = None,
    framework: str | None = None,
    mlflow_run_id: str | None = None,
    description: str | None = None,
) -> Reference:
    """A reference to version ``version`` of ``model``."""
    version = validation.key_segment(version, f"a version of model {model!r}")
    urn = model_version_urn(validation.text(model, "a model name"), version)
    return _declare(
        {
            MARKER: "modelVersion",
            "urn": str(urn),
            "model": model,
            "version": version,
            "uri": validation.optional_text(uri, "uri"),
            "framework": validation.optional_text(framework, "framework"),
            "mlflow_run_id": validation.optional_text(mlflow_run_id, "mlflow_run_id"),
            "description": validation.optional_text(description, "description"),
        }
    )


def is_reference(value: Any) -> bool:
    """True when ``value`` is a reference made by this module."""
    return (
        isinstance(value, dict) and value.get(MARKER) in KINDS and isinstance(value.get("urn"), str)
    )


def find_references(value: Any, *, depth: int = MAX_DEPTH) -> list[Reference]:
    """Every reference in ``value`` (nested in lists, tuples and dicts), each URN once."""
    seen: dict[str, Reference] = {}
    for ref in _walk(value, depth):
        seen.setdefault(ref["urn"], ref)
    return list(seen.values())


def _walk(value: Any, depth: int) -> Iterator[Reference]:
    if is_reference(value):
        yield value
        return
    if depth <= 0:
        return
    if isinstance(value, dict):
        children: Iterable[Any] = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        children = value
    else:
        return
    for count, child in enumerate(children):
        if count >= MAX_CHILDREN:
            return
        yield from _walk(child, depth - 1)


def declared_references() -> list[Reference]:
    """References made in this process (any thread) since :func:`forget_declared_references`."""
    with _declared_lock:
        return list(_declared)


def forget_declared_references() -> None:
    """Start a new task: forget the references made so far in this process."""
    with _declared_lock:
        _declared.clear()


def _declare(ref: Reference) -> Reference:
    with _declared_lock:
        if len(_declared) < MAX_DECLARED:
            _declared.append(ref)
    return ref


def _segments(name: str, what: str) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"a {what} must be non-empty text, not {name!r}")
    validation.text(name, f"a {what}")
    parts = [part for part in name.strip().split("/") if part]
    if not parts:
        raise InvalidInputError(f"a {what} must hold more than slashes: {name!r}")
    return parts
