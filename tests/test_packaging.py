"""The wheel holds every subpackage and asset of the source tree.

The editable install that development uses finds modules in the source folders whatever
pyproject.toml lists, so a subpackage missing from the package list would only show on a
user's machine. This test builds the wheel, installs it into a scratch environment (the
project's dependencies visible to it, the editable install not) and imports every module of
the source tree from there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> import path (pyproject.toml's package-dir).
FOLDERS = {
    "aimops": "aimops",
    "metadata": "aimops.metadata",
    "monitors": "aimops.monitors",
    "hooks": "aimops.hooks",
    "operators": "aimops.operators",
    "flows": "aimops.flows",
}
ASSETS = [
    ("aimops.monitors.reports", "assets/report.js"),
    ("aimops.monitors.reports", "assets/report.css"),
    ("aimops.metadata.migrations", "script.py.mako"),
    ("aimops", "py.typed"),
]


def source_modules() -> list[str]:
    """Every module of the source tree, by its import path."""
    found = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join([package, *parts]))
    return found


#: Alembic runs these itself (they need its context): found, not imported.
NOT_IMPORTED = ("aimops.metadata.migrations.",)
IMPORT_ALL = """
import importlib, importlib.resources, importlib.util, json, sys
names, assets, skipped = (json.loads(arg) for arg in sys.argv[1:4])
files = {}
for name in names:
    if name.startswith(tuple(skipped)):
        files[name] = importlib.util.find_spec(name).origin
    else:
        files[name] = importlib.import_module(name).__file__
present = [importlib.resources.files(package).joinpath(path).is_file() for package, path in assets]
print(json.dumps({"files": files, "assets": present}))
"""


@pytest.fixture(scope="module")
def scratch_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the built wheel installed; dependencies from the project's."""
    work = tmp_path_factory.mktemp("wheel")
    uv = Path(sys.executable).parent / "uv"
    built = subprocess.run(
        # the wheel from the sdist, as a user gets it: no stale build/ folder can fill gaps
        [str(uv), "build", "--out-dir", str(work / "dist"), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (work / "dist").glob("aimops-*.whl")
    env = work / "env"
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
    )
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # The project's dependencies, as a plain path: its own .pth files (the editable install's
    # finder among them) are not run for a folder a .pth file adds.
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_holds_every_module_and_asset(scratch_python: Path) -> None:
    names = source_modules()
    assert "aimops.monitors.checks.registry" in names and "aimops.operators.web.app" in names
    result = subprocess.run(
        [str(scratch_python), "-c", IMPORT_ALL, *map(json.dumps, (names, ASSETS, NOT_IMPORTED))],
        capture_output=True, text=True, check=False, cwd=scratch_python.parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    env = str(scratch_python.parents[1])
    outside = {name: file for name, file in found["files"].items() if not file.startswith(env)}
    assert not outside, f"imported from outside the installed wheel: {outside}"
    assert found["assets"] == [True] * len(ASSETS)
