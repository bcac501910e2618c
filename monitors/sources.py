"""Where an evaluation's rows and scores come from: tables, references, registered models.

A table is a pandas DataFrame, a CSV or Parquet path, a ``file://`` URI, or an aimops
``dataset_ref`` (its ``uri``). A model version is a URN, ``name/version``, or a
``model_version_ref``; its scores come from the MLflow Model Registry (``predict_proba`` of a
scikit-learn flavour, else the pyfunc's prediction).

Example:
    >>> str(model_version_of("churn/3")[0])
    'urn:aim:modelVersion:churn/3'
    >>> model_version_of({"aimops_ref": "modelVersion", "urn": "urn:aim:modelVersion:churn/4",
    ...                   "uri": "models:/churn/4"})[1]
    'models:/churn/4'
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError, NotFoundError
from aimops.metadata.urns import Urn, dataset_urn, model_version_urn

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def table_path(source: Any) -> Path | None:
    """The file a table source names (None for a DataFrame)."""
    if isinstance(source, Mapping):
        if "uri" not in source or not source["uri"]:
            raise InvalidInputError(f"data set reference {source.get('urn')!r} has no uri")
        source = source["uri"]
    if isinstance(source, Path):
        return validation.file_path(source, "a table's path")
    if isinstance(source, str):
        if source.startswith("file:"):
            return validation.file_path(url2pathname(urlsplit(source).path), "a table's path")
        if "://" in source:
            raise InvalidInputError(
                f"only local files can be read as tables, not {validation.shown(source)}"
            )
        return validation.file_path(source, "a table's path")
    return None


def read_table(source: Any) -> Any:
    """A pandas DataFrame from a DataFrame, a CSV/Parquet path or URI, or a dataset reference.

    A path that cannot name a file (too long, a folder) is an
    :class:`~aimops.errors.InvalidInputError`, a missing file a
    :class:`~aimops.errors.NotFoundError`, a file that is no table an
    :class:`~aimops.errors.InvalidDataError`."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    path = table_path(source)
    if path is None:
        raise InvalidInputError(
            f"cannot read a table from a {type(source).__name__}: give a DataFrame, a CSV or "
            "Parquet path, a file:// URI or a dataset reference"
        )
    with validation.usable_path(path, "a table's path"):
        if not path.is_file():
            raise NotFoundError(f"table file {path} does not exist")
        suffix = path.suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            raise InvalidInputError(f"{path}: tables are .csv or .parquet files, not {suffix!r}")
        try:
            return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        except ValueError as exc:  # pandas' and pyarrow's parse errors, a bad encoding
            raise InvalidDataError(f"{path} cannot be read as a table: {exc}") from exc


def dataset_of(source: Any) -> Urn | None:
    """The data set a table source is: a reference's URN, a file's absolute URI as the name."""
    if isinstance(source, Mapping) and source.get("urn"):
        return Urn.parse(source["urn"])
    if isinstance(source, str) and source.startswith("urn:"):
        return Urn.parse(source)
    path = table_path(source)
    return dataset_urn(path.resolve().as_uri()) if path is not None else None


def model_version_of(value: Any) -> tuple[Urn, str]:
    """(model version URN, model URI for MLflow) of a URN, ``name/version`` or reference."""
    if isinstance(value, Mapping):
        urn = Urn.parse(value.get("urn", ""))
        uri = value.get("uri") or _registry_uri(urn)
        return _checked(urn), str(uri)
    if isinstance(value, Urn) or (isinstance(value, str) and value.startswith("urn:")):
        urn = _checked(Urn.parse(value))
        return urn, _registry_uri(urn)
    if isinstance(value, str):
        text = value.removeprefix("models:/")
        name, slash, version = text.rpartition("/")
        if slash and name and version:
            urn = model_version_urn(name, version)
            return urn, _registry_uri(urn)
    raise InvalidInputError(
        f"{value!r} is not a model version: give its URN (urn:aim:modelVersion:name/3), "
        "'name/3' or a model_version_ref"
    )


def _checked(urn: Urn) -> Urn:
    if urn.type != "modelVersion":
        raise InvalidInputError(f"{urn} is not a model version URN")
    return urn


def _registry_uri(urn: Urn) -> str:
    name, version = urn.segments
    return f"models:/{name}/{version}"


def version_label(urn: Urn) -> str:
    """``name/version``: how a model version is named in reports and comparisons."""
    return "/".join(urn.segments)


def column(frame: Any, name: str, role: str) -> Any:
    """The column ``name`` of ``frame`` as an array; a missing one is named with the columns."""
    if name not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise InvalidDataError(f"the {role} column {name!r} is not in the table; columns: {shown}")
    return frame[name].to_numpy()


def column_matrix(frame: Any, names: Sequence[str], role: str) -> Any:
    """The columns ``names`` of ``frame`` as a 2-D array; missing ones are named."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InvalidDataError(f"{role} columns not in the table: {', '.join(map(str, missing))}")
    return frame[list(names)].to_numpy()


def features(frame: Any, exclude: Sequence[str], chosen: Sequence[str] | None) -> Any:
    """The feature columns: ``chosen``, else every column but the excluded ones."""
    if chosen:
        missing = [name for name in chosen if name not in frame.columns]
        if missing:
            raise InvalidDataError(f"feature columns not in the table: {', '.join(missing)}")
        return frame[list(chosen)]
    return frame.drop(columns=[name for name in exclude if name in frame.columns])


def model_scores(model_uri: str, table: Any, *, tracking_uri: str, registry_uri: str) -> Any:
    """Scores of ``table`` by a registered model: P(class 1) for a binary classifier.

    ``model_uri`` is anything MLflow resolves (``models:/name/3``, ``models:/name@champion``,
    ``models:/m-<id>``, ``runs:/...``, a location); see :func:`load_model`.
    """
    model = load_model(model_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
    try:
        raw = model.predict_proba(table) if hasattr(model, "predict_proba") else None
        if raw is None:
            raw = model.predict(table)
    except (ValueError, KeyError) as exc:  # columns the model was not trained on, or none
        raise InvalidDataError(f"{model_uri} cannot score the table: {exc}") from None
    scores = np.asarray(raw, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 2:
        return scores[:, 1]
    return scores.reshape(-1) if scores.ndim == 2 and scores.shape[1] == 1 else scores


@contextlib.contextmanager
def without_airflow_shim_warnings() -> Iterator[None]:
    """Save or load a scikit-learn model without a flood of Airflow deprecation warnings.

    MLflow keeps scikit-learn models in skops' format, and the first ``import skops.io`` of a
    process looks each of scipy's ~230 ufuncs up in every loaded module. Inside an Airflow task
    every lookup in one of Airflow's deprecated-module shims warns (``DeprecatedImportWarning``,
    a ``FutureWarning``: "The `airflow.utils.timezone.agm` attribute is deprecated"), which
    opens the task's log with ~1,160 such lines. Only those warnings are ignored, only inside
    the block; everything else still warns.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     with without_airflow_shim_warnings():
        ...         warnings.warn("The `airflow.utils.timezone.agm` attribute is deprecated.",
        ...                       FutureWarning)
        ...         warnings.warn("something else", FutureWarning)
        >>> [str(warning.message) for warning in caught]
        ['something else']
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The `airflow\.", category=FutureWarning)
        yield


def load_model(model_uri: str, *, tracking_uri: str, registry_uri: str) -> Any:
    """The model behind ``model_uri``: its scikit-learn object when it has that flavour, else
    its pyfunc. It is fetched with the given URIs (MLflow's process-wide tracking and registry
    settings stay as they were) into a temporary folder that lives as long as the model does
    (a pyfunc may read its files when it predicts). Raises
    :class:`~aimops.errors.NotFoundError` when MLflow cannot load it."""
    import shutil
    import tempfile
    import weakref

    from mlflow.exceptions import MlflowException

    folder = tempfile.mkdtemp(prefix="aimops-model-")
    try:
        model = _load_model(model_uri, folder, tracking_uri, registry_uri)
    except MlflowException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise NotFoundError(
            f"cannot load {model_uri} from MLflow at {registry_uri}: {exc.message}"
        ) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        weakref.finalize(model, shutil.rmtree, folder, ignore_errors=True)
    except TypeError:  # a model that takes no weak references keeps its folder until exit
        weakref.finalize(load_model, shutil.rmtree, folder, ignore_errors=True)
    return model


def registered_version(reference: str, *, tracking_uri: str, registry_uri: str) -> str:
    """``name/version`` of a registered model version named ``name/3``, ``name@alias``,
    ``name/latest`` or ``models:/...`` any of those, as the MLflow registry resolves it now.
    Raises :class:`~aimops.errors.NotFoundError` naming it when the registry has no such one."""
    import mlflow
    from mlflow.exceptions import MlflowException

    text = reference.removeprefix("models:/").strip("/")
    name, at, alias = text.partition("@")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    try:
        if at:
            return f"{name}/{client.get_model_version_by_alias(name, alias).version}"
        name, slash, version = text.rpartition("/")
        if not slash or not name:
            raise InvalidInputError(f"{reference!r} is not name/version or name@alias")
        if version == "latest":
            found = client.search_model_versions(f"name = '{name}'")
            if not found:
                raise NotFoundError(f"model {name!r} has no version in the MLflow registry")
            return f"{name}/{max(int(item.version) for item in found)}"
        return f"{name}/{client.get_model_version(name, version).version}"
    except MlflowException as exc:
        raise NotFoundError(
            f"the MLflow registry at {registry_uri} has no model version {reference!r}: "
            f"{exc.message}"
        ) from None


def _load_model(model_uri: str, folder: str, tracking_uri: str, registry_uri: str) -> Any:
    """The model behind ``model_uri``, downloaded into ``folder``: its scikit-learn object when
    it has that flavour, else its pyfunc."""
    import mlflow
    from mlflow.artifacts import download_artifacts

    from aimops.settings import temporary_environment

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    with temporary_environment({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}):
        local = download_artifacts(
            artifact_uri=_artifact_location(model_uri, client),
            dst_path=folder,
            tracking_uri=tracking_uri,
        )
    flavors = mlflow.models.Model.load(local).flavors
    with without_airflow_shim_warnings():
        if "sklearn" in flavors:
            return mlflow.sklearn.load_model(local)
        return mlflow.pyfunc.load_model(local)


def _artifact_location(model_uri: str, client: Any) -> str:
    """Where the files of ``model_uri`` are, asked of ``client`` (MLflow's own resolution of
    ``models:/`` reads the process-wide registry, whatever registry it is given)."""
    if not model_uri.startswith("models:/"):
        return model_uri  # runs:/..., a path, s3://...: the tracking URI is enough
    reference = model_uri.removeprefix("models:/").strip("/")
    name, at, alias = reference.partition("@")
    if at:
        version = client.get_model_version_by_alias(name, alias).version
    elif "/" in reference:
        name, _, version = reference.rpartition("/")
        if version == "latest":
            found = client.search_model_versions(f"name = '{name}'")
            if not found:
                raise NotFoundError(f"model {name!r} has no version in the MLflow registry")
            version = str(max(int(item.version) for item in found))
    else:  # models:/m-<id>: a logged model (MLflow 3)
        return str(client.get_logged_model(reference).artifact_location)
    return str(client.get_model_version_download_uri(name, version))
