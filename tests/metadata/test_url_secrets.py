"""No form of credential in a store or tracking URL is ever printed: errors, logs, the CLI."""

from __future__ import annotations

import pytest

from aimops.metadata.engine import redact

SECRET = "hunter2-S3cr3t"
URLS = [
    f"postgresql+psycopg://ml:{SECRET}@127.0.0.1:1/aim",  # the user part
    f"postgresql+psycopg://ml:{SECRET}@x@127.0.0.1:1/aim",  # an unencoded @ in the password
    f"postgresql+psycopg://ml:{SECRET}/y@127.0.0.1:1/aim",  # an unencoded / in the password
    f"postgresql+psycopg://ml@127.0.0.1:1/aim?password={SECRET}",  # a query parameter
    f"postgresql+psycopg://ml@127.0.0.1:1/aim?sslmode=require&sslpassword={SECRET}",
]


@pytest.mark.parametrize("url", URLS)
def test_redact_hides_every_form_of_password(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown and "S3cr3t" not in shown and "@x@" not in shown
    assert shown.startswith("postgresql+psycopg://ml") and "127.0.0.1:1/aim" in shown


@pytest.mark.parametrize("url", URLS)
def test_the_cli_never_prints_the_password(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from aimops.cli import main

    assert main(["runs", "list", "--store", url]) == 1
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert SECRET not in said and "S3cr3t" not in said and "x@127" not in said, said
    assert len(said.strip().splitlines()) == 1, said


def test_an_unencoded_at_in_a_password_is_refused_before_connecting() -> None:
    from aimops.errors import ConfigurationError
    from aimops.metadata.store import AimStore

    with pytest.raises(ConfigurationError, match="unencoded '@': write it as %40") as caught:
        AimStore.open(URLS[1])
    assert SECRET not in str(caught.value)


def test_mlflow_uris_hide_query_credentials_too() -> None:
    from aimops.hooks.mlflow import _redact

    shown = _redact(f"https://user:{SECRET}@mlflow.example.com/?token={SECRET}&x=1")
    assert SECRET not in shown and "x=1" in shown


@pytest.mark.postgres
def test_a_suggested_command_names_a_variable_instead_of_a_hidden_password(
    postgres_database: str,
) -> None:
    """A command with ``***`` in the password's place would not run: name AIMOPS_STORE_URL."""
    from aimops.errors import SchemaMissingError
    from aimops.metadata.store import AimStore

    with pytest.raises(SchemaMissingError) as caught:  # an empty database: no schema yet
        AimStore.open(f"{postgres_database}?password={SECRET}", create=False)
    message = str(caught.value)
    assert SECRET not in message
    assert 'aimops init --store "$AIMOPS_STORE_URL"' in message


def test_a_suggested_command_keeps_a_url_without_credentials() -> None:
    from aimops.metadata.engine import store_option

    assert store_option("sqlite:////data/aim.db") == "--store 'sqlite:////data/aim.db'"
