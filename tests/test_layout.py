"""House rules that keep the package easy to live in, checked rather than hoped for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_FOLDERS = ("aimops", "metadata", "monitors")
ORCHESTRATORS = ("airflow", "prefect")
HEAVY = ("great_expectations", "evidently", "mlflow", "sklearn")
COMPONENTS = ("metadata", "monitors", "hooks", "operators", "flows")


def _python_files(*folders: str) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def _imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "path", _python_files(*CORE_FOLDERS), ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_never_imports_an_orchestrator(path: Path) -> None:
    assert not _imports(path) & set(ORCHESTRATORS)


def test_importing_the_core_loads_no_orchestrator_or_heavy_library() -> None:
    code = (
        "import sys, aimops, aimops.metadata, aimops.monitors, aimops.cli\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {ORCHESTRATORS + HEAVY!r})\n"
        "print(','.join(bad))"
    )
    assert _fresh_python(code) == ""


def test_dag_files_and_provider_discovery_stay_light() -> None:
    """What every DAG file and every Airflow process imports must not load the store."""
    code = (
        "import sys, aimops, aimops.operators.provider\n"
        "aimops.dataset_ref('d'); aimops.artifact_ref('a'); aimops.model_version_ref('m', 1)\n"
        "aimops.operators.provider.get_provider_info()\n"
        "print(','.join(sorted(m for m in ('sqlalchemy', 'pydantic', 'airflow') "
        "if m in sys.modules)))"
    )
    assert _fresh_python(code) == ""


#: What Airflow's plugin import must not load: the store and the capture's sink.
LOADED_ON_FIRST_EVENT = ("aimops.metadata.store", "aimops.metadata.capture.sink")


def test_the_capture_listener_loads_the_store_only_when_it_captures() -> None:
    """Airflow loads the plugin in every process; the store comes with the first event."""
    import importlib.util

    for module in LOADED_ON_FIRST_EVENT:  # a moved module would make the check below vacuous
        assert importlib.util.find_spec(module) is not None, module
    code = (
        "import sys, aimops.operators.plugin\n"
        f"print(*[name in sys.modules for name in {LOADED_ON_FIRST_EVENT!r}])"
    )
    assert _fresh_python(code).split() == ["False", "False"]


def _fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing imported before it)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    "path",
    _python_files(*CORE_FOLDERS, "hooks", "operators", "flows", "tests"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_components_are_imported_through_aimops(path: Path) -> None:
    assert not _imports(path) & set(COMPONENTS)


def test_public_names_are_exported() -> None:
    import aimops
    import aimops.metadata

    for package in (aimops, aimops.metadata):
        assert sorted(package.__all__) == sorted(set(package.__all__))
        for name in package.__all__:
            assert getattr(package, name) is not None, name


def test_one_module_per_name() -> None:
    """No module is loaded twice under two names (repository root is not on sys.path)."""
    import importlib.util

    import aimops.metadata.store as store_module

    assert store_module.__name__ == "aimops.metadata.store"
    for component in COMPONENTS:
        assert component not in sys.modules
        if str(ROOT) not in sys.path:  # a test may put the root there briefly for its children
            assert importlib.util.find_spec(component) is None, component
