"""Where aimops' Prefect tasks record: the ``AimopsStore`` block (``aimops-store`` in Prefect).

The block holds the AIM store's URL (a secret: a PostgreSQL URL carries a password), MLflow's
tracking and registry URIs and the folder HTML reports go to. Every field is optional; an empty
one falls back to the environment, as the Airflow connections do:

- ``store_url``: ``$AIMOPS_STORE_URL``, else ``$AIMOPS_HOME/aim.db``;
- ``mlflow_tracking_uri``: ``$MLFLOW_TRACKING_URI``, else the local registry under
  ``$AIMOPS_HOME/mlflow`` that the examples train into; ``mlflow_registry_uri``: the tracking
  URI;
- ``report_dir``: ``$AIMOPS_HOME/reports``.

Every aimops task takes ``store=``: a block, the name of a saved one, or None (the
environment). Prefect's server registers the block type when it starts (aimops is a Prefect
collection through its ``prefect.collections`` entry point), so it shows under Blocks in the
UI; ``prefect block register -m aimops.flows.blocks`` registers it with a server started
before aimops was installed.

Example:
    >>> block = AimopsStore(store_url="sqlite:////srv/aimops/aim.db", report_dir="/srv/reports")
    >>> block.store_location()
    'sqlite:////srv/aimops/aim.db'
    >>> block  # the URL is a secret: never printed
    AimopsStore(store_url=SecretStr('**********'), mlflow_tracking_uri=None, \
mlflow_registry_uri=None, report_dir='/srv/reports')
    >>> AimopsStore().store_location() == default_store_url()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from aimops.errors import ConfigurationError, InvalidInputError
from aimops.settings import default_store_url

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.monitors.evaluation.jobs import MlflowLocation


class AimopsStore(Block):
    """The AIM store, MLflow and the reports folder aimops' Prefect tasks use.

    Example (save once, then name it in flows)::

        AimopsStore(store_url="postgresql://aim:...@db:5432/aim").save("prod")
        evaluate_model(model_version="churn/3", dataset=..., store="prod")
    """

    _block_type_name: ClassVar[str] = "AIM store"
    _block_type_slug: ClassVar[str] = "aimops-store"
    _description: ClassVar[str] = (
        "Where aimops records evaluations, checks and lifecycle transitions (the AIM store), "
        "where models are loaded from (MLflow) and where HTML reports are written. Empty "
        "fields fall back to AIMOPS_STORE_URL, MLFLOW_TRACKING_URI and AIMOPS_HOME."
    )

    store_url: SecretStr | None = Field(
        default=None,
        title="AIM store URL",
        description="sqlite:////path/aim.db or postgresql://user:password@host:5432/db; "
        "empty: $AIMOPS_STORE_URL, else $AIMOPS_HOME/aim.db.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        title="MLflow tracking URI",
        description="Where registered models are loaded from; empty: $MLFLOW_TRACKING_URI, "
        "else the local registry under $AIMOPS_HOME/mlflow.",
    )
    mlflow_registry_uri: str | None = Field(
        default=None,
        title="MLflow registry URI",
        description="The model registry, when it is not the tracking server.",
    )
    report_dir: str | None = Field(
        default=None,
        title="Reports folder",
        description="Where HTML reports are written; empty: $AIMOPS_HOME/reports.",
    )

    def store_location(self) -> str:
        """The store URL: the block's, else the environment's (see the module)."""
        given = self.store_url.get_secret_value().strip() if self.store_url else ""
        return given or default_store_url()

    def open(self, *, actor: str | None = None) -> AimStore:
        """Open the store (errors as :meth:`aimops.metadata.store.AimStore.open` raises them:
        unreachable is transient, a wrong URL permanent)."""
        from aimops.metadata.store import AimStore

        return AimStore.open(self.store_location(), actor=actor)

    def mlflow_uris(self) -> tuple[str, str] | None:
        """(tracking, registry) URIs the block or ``$MLFLOW_TRACKING_URI`` names; None when
        neither does."""
        import os

        tracking = (self.mlflow_tracking_uri or "").strip()
        tracking = tracking or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        if not tracking:
            return None
        registry = (self.mlflow_registry_uri or "").strip()
        registry = registry or os.environ.get("MLFLOW_REGISTRY_URI", "").strip()
        return tracking, registry or tracking

    def model_location(self) -> MlflowLocation:
        """Where registered models are loaded from when rows are scored (the local registry
        the examples train into when nothing names one)."""
        from aimops.monitors.evaluation.jobs import MlflowLocation
        from aimops.settings import local_mlflow_uri

        uris = self.mlflow_uris()
        return MlflowLocation(*(uris or (local_mlflow_uri(), local_mlflow_uri())))

    def mlflow_target(self) -> Any:
        """Where lifecycle transitions mirror MLflow's tags: the configured registry, else True
        (the core's default: the local registry under ``$AIMOPS_HOME`` when it exists)."""
        uris = self.mlflow_uris()
        if uris is None:
            return True
        from aimops.metadata.lifecycle.mlflow_mirror import MlflowTarget

        return MlflowTarget(*uris)

    def reports(self) -> str:
        """The reports folder the jobs take: the block's, else ``"default"``."""
        return (self.report_dir or "").strip() or "default"


def resolve_store(store: AimopsStore | str | None) -> AimopsStore:
    """The block a task was given: a block as it is, a saved block's name loaded, None as an
    empty block (the environment). A URL is refused: as a flow parameter it would show in
    Prefect's UI, password and all.

    Example:
        >>> resolve_store(None).store_location() == default_store_url()
        True
        >>> resolve_store("postgresql://aim:pw@db/aim")
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidInputError: store= takes an AimopsStore block or the name of a \
saved one, not a URL (it would show in Prefect's UI): AimopsStore(store_url=...).save("name")
    """
    if store is None:
        return AimopsStore()
    if isinstance(store, AimopsStore):
        return store
    if not isinstance(store, str) or not store.strip():
        raise InvalidInputError(
            f"store= takes an AimopsStore block or the name of a saved one, not {store!r:.80}"
        )
    if "://" in store:
        raise InvalidInputError(
            "store= takes an AimopsStore block or the name of a saved one, not a URL (it would "
            'show in Prefect\'s UI): AimopsStore(store_url=...).save("name")'
        )
    try:
        loaded: AimopsStore = AimopsStore.load(store.strip(), _sync=True)  # type: ignore[call-arg,assignment]
    except ValueError as exc:
        raise ConfigurationError(
            f"no AimopsStore block named {store.strip()!r} is saved on this Prefect server ({exc})"
        ) from None
    return loaded
