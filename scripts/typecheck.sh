#!/usr/bin/env bash
# mypy --strict over the packaged code, then over the local Airflow controller
# (scripts/airflow_local). The folders map onto aimops.* only through the
# package-dir mapping, which mypy cannot follow, so check a tree of links laid out as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree" && mkdir -p "$tree/aimops"
for file in aimops/*.py aimops/py.typed; do ln -s "../../../$file" "$tree/aimops/"; done
for folder in metadata monitors hooks operators flows; do ln -s "../../../$folder" "$tree/aimops/$folder"; done
(cd "$tree" && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p aimops)
cd scripts && exec ../.venv/bin/mypy --config-file ../pyproject.toml -p airflow_local
