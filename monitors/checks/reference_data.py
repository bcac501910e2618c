"""Reference data registered once per model version, so a later drift check can find it.

:func:`register_reference` stores the frame a model version should be compared against
(typically its training data, at training time) as a Parquet file and records it in the AIM
store; :func:`load_reference` finds it again from the model version alone, so a nightly check
does not need the training set at hand.

- **What is stored.** The whole frame when it has at most ``max_rows`` rows (default
  100 000); otherwise a uniform random sample of ``max_rows`` rows drawn without replacement
  with ``numpy.random.default_rng(seed)`` (the same frame and seed always give the same
  sample), kept in the frame's original row order. The index is not stored.
- **Where.** ``<folder>/reference.parquet``; ``folder`` defaults to
  ``$AIMOPS_HOME/reference/<model>/<version>``. The file is written to a temporary file in the
  same folder and moved into place, so a reader never sees half a file.
- **How it is recorded.** As the artifact ``urn:aim:artifact:reference/<model>/<version>``
  (``artifactInfo`` with kind ``reference_data``, the file URI, size and sha256), whose
  ``params`` describe it: ``rows``, ``columns`` (a JSON list), ``sampled_from`` (the rows of
  the frame given) and, when sampled, ``sample_seed``. The key is deterministic: registering
  the same frame again changes nothing, and registering another frame replaces the file and
  records a new version of those aspects, so the latest is always what the file holds.
- **The link.** ``artifact partOf modelVersion``: the reference belongs to the version. A
  structural edge on purpose: the model version neither produced the reference data nor was
  trained on the stored sample, so no data-flow edge (``produced``, ``derivedFrom``,
  ``consumed``) would be true, and lineage stays as it was.

Example:
    >>> import aimops, pandas as pd
    >>> store = aimops.connect("sqlite://")
    >>> version = aimops.record_model_version(store, "churn", 3)
    >>> frame = pd.DataFrame({"age": [30.5, 41.0, 25.5], "plan": ["a", "b", "a"]})
    >>> str(register_reference(store, version, frame))
    'urn:aim:artifact:reference/churn/3'
    >>> load_reference(store, version).equals(frame)
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError, MissingEntityError, NotFoundError
from aimops.metadata.recording import record_artifact
from aimops.metadata.urns import Urn, artifact_urn
from aimops.settings import aimops_home

if TYPE_CHECKING:
    import pandas as pd

    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter

REFERENCE_KIND = "reference_data"
FILE_NAME = "reference.parquet"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def register_reference(
    store: AimStore,
    model_version: str | Urn,
    frame: pd.DataFrame,
    *,
    max_rows: int = 100_000,
    seed: int = 0,
    folder: str | os.PathLike[str] | None = None,
) -> Urn:
    """Store ``frame`` (or a seeded sample of ``max_rows`` rows) as the reference data of
    ``model_version``; returns the artifact's URN. See the module docstring for the details.

    Raises :class:`~aimops.errors.MissingEntityError` when the model version is not in the
    store (nothing is written then) and :class:`~aimops.errors.InvalidDataError` for a frame
    that cannot be stored.
    """
    version = _model_version(model_version)
    max_rows = validation.whole_number(max_rows, "max_rows", minimum=1)
    seed = validation.whole_number(seed, "seed", minimum=0)
    chosen = validation.optional_file_path(folder, "folder")
    if store.get_entity(version) is None:
        raise MissingEntityError(f"model version {version} is not in the store")
    stored = _sample(frame, max_rows, seed)
    model, number = version.segments
    directory = chosen if chosen is not None else aimops_home() / "reference" / model / number
    with validation.usable_path(directory, "folder"):
        path = _write_parquet_atomically(stored, directory / FILE_NAME)
    description = {
        "rows": str(len(stored)),
        "columns": json.dumps([str(name) for name in stored.columns]),
        "sampled_from": str(len(frame)),
    }
    if len(stored) < len(frame):
        description["sample_seed"] = str(seed)

    def work(tx: StoreWriter) -> Urn:
        if tx.entity_id(version) is None:
            raise MissingEntityError(f"model version {version} is not in the store")
        urn = record_artifact(
            tx,
            f"reference data of {model} version {number}",
            kind=REFERENCE_KIND,
            uri=path.as_uri(),
            media_type=PARQUET_MEDIA_TYPE,
            size_bytes=path.stat().st_size,
            checksum=f"sha256:{_sha256(path)}",
            key=_reference_key(version),
        )
        tx.put_aspect(urn, "params", description)
        tx.put_edge(urn, "partOf", version)
        return urn

    return store.write(work)


def load_reference(store: AimStore, model_version: str | Urn) -> pd.DataFrame:
    """The reference data registered for ``model_version`` (the latest registration).

    Raises :class:`~aimops.errors.NotFoundError` naming the version when none was registered,
    and naming the file when it is no longer where it was recorded.
    """
    import pandas as pd

    version = _model_version(model_version)
    found = store.get_aspect(artifact_urn(*_reference_key(version)), "artifactInfo")
    if found is None or found.value.get("kind") != REFERENCE_KIND:
        raise NotFoundError(
            f"no reference data is registered for model version {version}; "
            "register it with register_reference(store, model_version, frame)"
        )
    path = _path_of(found.value["uri"])
    if not path.is_file():
        raise NotFoundError(
            f"the reference data of model version {version} was recorded at {path}, "
            "but that file is gone; register the reference again"
        )
    return pd.read_parquet(path)


def _model_version(given: str | Urn) -> Urn:
    urn = Urn.parse(given)
    if urn.type != "modelVersion" or len(urn.segments) != 2:
        raise InvalidInputError(f"reference data belongs to a model version, not to {urn}")
    return urn


def _reference_key(version: Urn) -> list[str]:
    return ["reference", *version.segments]


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidDataError(f"reference data must be a pandas DataFrame, not {type(frame)}")
    if frame.empty:
        raise InvalidDataError("reference data is empty: it needs rows and columns")
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    positions = np.random.default_rng(seed).choice(len(frame), max_rows, replace=False)
    return frame.iloc[np.sort(positions)].reset_index(drop=True)


def _write_parquet_atomically(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        frame.to_parquet(temporary, index=False)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the store is shared
        os.replace(temporary, path)
    except Exception as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(exc, ValueError | TypeError) or _is_arrow_error(exc):
            raise InvalidDataError(f"reference data cannot be stored as Parquet: {exc}") from exc
        raise
    return path.resolve()


def _is_arrow_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("pyarrow")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _path_of(uri: Any) -> Path:
    parsed = urlparse(str(uri))
    if parsed.scheme != "file":
        raise NotFoundError(f"reference data at {uri} is not a local file")
    return Path(url2pathname(parsed.path))
