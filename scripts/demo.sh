#!/usr/bin/env bash
# The aimops demo: run the Airflow DAGs dags_examples/train_model.py and
# dags_examples/evaluate_models.py end to end with `airflow dags test` in a fresh, throwaway
# Airflow home; the aimops listener plugin captures the runs as they go; then show what the AIM
# store holds through the `aimops` CLI, and write the comparison's interactive HTML report.
# Then the same training as a Prefect 3 flow (dags_examples/flows/train_flow.py, captured by
# aimops' @tracked, on a temporary local Prefect server): its run, steps and lineage.
# Then monitoring: dags_examples/simulate_serving.py (a serving SIMULATOR) writes a clean day
# and a faulty day of requests, and dags_examples/monitor_model.py checks each: the clean day
# passes, the faulty one fails its drift, consistency and health checks and raises alerts.
# Between the two, the model lifecycle: a version without evidence is refused review; the
# evaluation example's champion and then its challenger are reviewed on their evidence, approved
# by a policy and published by dags_examples/review_model.py; the audit trail and the version's
# page are shown. Last, ramps on simulated traffic (dags_examples/ramp_model.py): the champion
# is rolled out, the challenger ramped 1-5-25-50-100% and made champion, and a slow version
# rolled back automatically, the champion restored; `aimops models show` ends it.
#
# Run from anywhere (`make demo` runs it after setting up .venv). Settings:
#   AIMOPS_HOME               the AIM store, MLflow and the demo data (default: .aimops-demo)
#   AIMOPS_DEMO_AIRFLOW_HOME  the Airflow home, WIPED at every start
#                             (default: .aimops-demo/airflow; never your own $AIRFLOW_HOME)
#   AIMOPS_DEMO_PREFECT_HOME  the Prefect home (its temporary server's database), WIPED at every
#                             start (default: .aimops-demo/prefect; never your own $PREFECT_HOME)
#   MLFLOW_TRACKING_URI       MLflow's store (default: sqlite under $AIMOPS_HOME/mlflow)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PATH="$REPO/.venv/bin:$PATH"

DAG_ID=train_model
MODEL=breast_cancer_classifier
TRAIN_DATASET=breast_cancer_train

say() { printf '>> %s\n' "$*"; }
fail() { printf '>> FAILED: %s\n' "$*" >&2; exit 1; }
elapsed() { python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$EPOCHREALTIME"; }

for tool in airflow aimops python; do
    command -v "$tool" >/dev/null || fail "'$tool' is not on PATH: run 'make demo' (it sets up .venv)"
done

export AIMOPS_HOME="${AIMOPS_HOME:-$REPO/.aimops-demo}"
AIRFLOW_DEMO_HOME="${AIMOPS_DEMO_AIRFLOW_HOME:-$REPO/.aimops-demo/airflow}"
PREFECT_DEMO_HOME="${AIMOPS_DEMO_PREFECT_HOME:-$REPO/.aimops-demo/prefect}"
for wiped in "$AIRFLOW_DEMO_HOME" "$PREFECT_DEMO_HOME"; do
    case "$(realpath -m "$wiped")" in
        / | "$(realpath -m "$HOME")" | "$REPO" | "$(realpath -m "$AIMOPS_HOME")")
            fail "refusing to wipe $wiped" ;;
    esac
done

# The demo's own Airflow: nothing from the user's Airflow set-up is read or touched.
export AIRFLOW_HOME="$AIRFLOW_DEMO_HOME"
export AIRFLOW_CONFIG="$AIRFLOW_HOME/airflow.cfg"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export MLFLOW_DISABLE_TELEMETRY=true
export DO_NOT_TRACK=1
# The demo's own Prefect: a fresh database for the temporary server Prefect starts when no
# PREFECT_API_URL is set; no profile, server or key of the user's is read.
export PREFECT_HOME="$PREFECT_DEMO_HOME"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
unset PREFECT_API_URL PREFECT_API_KEY PREFECT_PROFILE PREFECT_PROFILES_PATH

START="$EPOCHREALTIME"
say "AIMOPS_HOME=$AIMOPS_HOME (the AIM store, MLflow and the demo data; kept between demos)"
say "fresh Airflow home: $AIRFLOW_HOME; fresh Prefect home: $PREFECT_HOME"
rm -rf "$AIRFLOW_HOME" "$PREFECT_HOME"
mkdir -p "$AIRFLOW_HOME" "$PREFECT_HOME" "$AIMOPS_HOME"

# The runs of a pipeline the store holds (by default train_model's, on Airflow), so that the
# one a demo step makes can be told apart from those of earlier demos.
known_runs() {
    aimops runs list --json --limit 1000 2>/dev/null | python -c '
import json, sys
text = sys.stdin.read().strip()
for run in json.loads(text) if text else []:
    if run["orchestrator"] == sys.argv[1] and run["pipeline"] == sys.argv[2]:
        print(run["urn"])
' "${1:-airflow}" "${2:-$DAG_ID}" || true
}
BEFORE="$(known_runs)"

say "airflow db migrate (log: $AIRFLOW_HOME/db-migrate.log)"
t0="$EPOCHREALTIME"
if ! airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1; then
    tail -n 30 "$AIRFLOW_HOME/db-migrate.log" >&2
    fail "airflow db migrate; see $AIRFLOW_HOME/db-migrate.log"
fi
say "Airflow metadata database ready (SQLite, $(elapsed "$t0") s)"

# Run one DAG with `airflow dags test` in this process, showing each task start and end;
# Airflow's full log goes to $AIRFLOW_HOME/dags-test-<dag>.log. Arguments: the DAG, what it
# does, the run's conf (JSON, optional) and the outcome expected: success (the default) or
# failed (a monitoring run that must catch injected faults).
run_dag() {
    local dag_id="$1" conf="${3:-}" expect="${4:-success}" t0="$EPOCHREALTIME" status
    local log="$AIRFLOW_HOME/dags-test-$1${5:+-$5}.log"
    local args=("$dag_id")
    [[ -n "$conf" ]] && args+=(-c "$conf")
    say "airflow dags test ${args[*]}: $2"
    say "(the whole DAG runs in this process; log: $log)"
    set +o pipefail
    # A run expected to fail shows its tasks only; the failures are shown from the store after.
    local shown='\[DAG TEST\] (starting|end task) task_id=|\[error|Traceback|aimops\.capture'
    [[ $expect == failed ]] && shown='\[DAG TEST\] (starting|end task) task_id='
    airflow dags test "${args[@]}" 2>&1 | tee "$log" \
        | grep --line-buffered -E "$shown" \
        | sed -u -E -e 's/^.*\[DAG TEST\] starting task_id=([^ ]+).*$/   started  \1/' \
            -e 's/^.*\[DAG TEST\] end task task_id=([^ ]+).*$/   finished \1/'
    status=${PIPESTATUS[0]}
    set -o pipefail
    if [[ $expect == success && $status -ne 0 ]]; then
        tail -n 40 "$log" >&2
        fail "the $dag_id run failed; see $log"
    fi
    if [[ $expect == failed && $status -eq 0 ]]; then
        fail "the $dag_id run was expected to fail (injected faults) but passed; see $log"
    fi
    say "DAG run finished in $(elapsed "$t0") s; Airflow's task instances:"
    python - "$AIRFLOW_HOME/airflow.db" "$dag_id" <<'PY'
import sqlite3, sys

db = sqlite3.connect(sys.argv[1])
(run_id, state) = db.execute(
    "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (sys.argv[2],)
).fetchone()
print(f"   run {run_id}: {state}")
rows = db.execute(
    "SELECT task_id, state, try_number, duration FROM task_instance"
    " WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
    (sys.argv[2], run_id),
)
for task_id, state, tries, duration in rows:
    print(f"   {task_id:<22} {state:<10} try {tries}  {duration or 0:5.1f} s")
PY
}

run_dag "$DAG_ID" "load_data -> validate_data -> train -> register_model"

say "aimops runs list"
aimops runs list --limit 10 || true

RUN_URN="$(comm -13 <(printf '%s\n' "$BEFORE" | sort) <(known_runs | sort) | head -n 1)"
if [[ -z "$RUN_URN" ]]; then
    fail "aimops captured no new run of $DAG_ID: is the aimops Airflow plugin installed \
(airflow plugins) and the DAG tagged 'aimops'?"
fi

say "aimops runs show $RUN_URN"
aimops runs show "$RUN_URN"

DATASET_URN="$(python -c 'import sys
from aimops.metadata.urns import dataset_urn
print(dataset_urn(sys.argv[1]))' "$TRAIN_DATASET")"
say "aimops lineage $DATASET_URN --downstream (data set -> steps -> model version)"
aimops lineage "$DATASET_URN" --downstream --depth 10

say "aimops models show $MODEL"
aimops models show "$MODEL"

run_dag evaluate_models "two models trained, registered, evaluated and compared, gated on the champion"

say "aimops evaluations list --limit 5"
aimops evaluations list --limit 5

COMPARISON_URN="$(aimops evaluations list --json --limit 50 | python -c '
import json, sys
print(next(e["urn"] for e in json.load(sys.stdin) if e["kind"] == "comparison"))')"
REPORT="$AIMOPS_HOME/reports/demo-comparison.html"
say "aimops compare $COMPARISON_URN --html $REPORT"
aimops compare "$COMPARISON_URN" --html "$REPORT"
say "the interactive report (one offline HTML file; open it in a browser): $REPORT"

# The same training as a Prefect 3 flow (dags_examples/flows/train_flow.py): `@tracked` above
# `@flow` captures the flow run, each task run as a step with its tries, the lineage of the
# references the tasks return and the MLflow run `train` logs to. The flow registers another
# version of the model (it leaves @candidate, which monitoring follows, to train_model) and
# records an evaluation of it. Prefect starts a temporary local server on $PREFECT_HOME.
PREFECT_FLOW=train_model_prefect
PREFECT_BEFORE="$(known_runs prefect "$PREFECT_FLOW")"
PREFECT_LOG="$PREFECT_HOME/train-flow.log"
say "python dags_examples/flows/train_flow.py: load_data -> validate_data -> train -> register_model -> evaluate, as a tracked Prefect flow"
say "(a temporary Prefect server, database in $PREFECT_HOME; log: $PREFECT_LOG)"
t0="$EPOCHREALTIME"
set +o pipefail
python dags_examples/flows/train_flow.py 2>&1 | tee "$PREFECT_LOG" \
    | grep --line-buffered -E "Beginning flow run|Task run '.*' - (Finished in state|Task run failed)|Traceback|aimops\.capture" \
    | sed -u -E -e "s/^.*Beginning flow run '([^']+)'.*$/   flow run \1 started/" \
        -e "s/^.*Task run '(.+)-[0-9a-f]+' - Finished in state ([A-Za-z]+).*$/   finished \1 (\2)/"
status=${PIPESTATUS[0]}
set -o pipefail
if [[ $status -ne 0 ]]; then
    tail -n 40 "$PREFECT_LOG" >&2
    fail "the Prefect flow $PREFECT_FLOW failed; see $PREFECT_LOG"
fi
say "flow run finished in $(elapsed "$t0") s; what it printed at its end:"
sed -n "/^$PREFECT_FLOW finished/,/next:/p" "$PREFECT_LOG"

PREFECT_RUN="$(comm -13 <(printf '%s\n' "$PREFECT_BEFORE" | sort) \
    <(known_runs prefect "$PREFECT_FLOW" | sort) | head -n 1)"
[[ -n "$PREFECT_RUN" ]] || fail "aimops captured no new run of the Prefect flow $PREFECT_FLOW"
grep -qF "$PREFECT_RUN" "$PREFECT_LOG" \
    || fail "the run the store holds ($PREFECT_RUN) is not the one the flow printed"
say "aimops runs list --limit 3 (the newest: the Prefect flow run beside the Airflow DAG runs)"
aimops runs list --limit 3
say "aimops runs show $PREFECT_RUN"
aimops runs show "$PREFECT_RUN"
# What the table shows, checked: the run succeeded, every task is a step that succeeded on its
# recorded tries, register_model produced the model version and the MLflow run is linked.
PREFECT_VERSION="$(python - "$(aimops runs show "$PREFECT_RUN" --json)" <<'PY'
import json, sys

run = json.loads(sys.argv[1])
problems = [] if run["status"] == "success" else [f"the run is {run['status']}"]
steps = {step["task_id"]: step for step in run["steps"]}
expected = {"load_data", "validate_data", "train", "register_model", "evaluate"}
if set(steps) != expected:
    problems.append(f"steps {sorted(steps)}, expected {sorted(expected)}")
for name, step in steps.items():
    tries = step["attempts"]
    if step["state"] != "success" or not tries or tries[-1]["state"] != "success":
        problems.append(f"step {name} is {step['state']} after {len(tries)} tries")
outputs = steps.get("register_model", {}).get("outputs", [])
made = [output["urn"] for output in outputs if output["type"] == "modelVersion"]
if len(made) != 1:
    problems.append(f"register_model produced {made or 'no model version'}")
if problems:
    sys.exit("; ".join(problems))
print(made[0])
PY
)" || fail "the captured Prefect run is not what the flow did (above)"
python - "$PREFECT_RUN" "$PREFECT_VERSION" <<'PY' || fail "the Prefect run's MLflow run or evaluation is missing"
import sys
from aimops.metadata import AimStore
from aimops.metadata.urns import Urn, step_urn

run, version = Urn.parse(sys.argv[1]), sys.argv[2]
with AimStore.open(create=False) as store:
    train = step_urn(*run.segments[:3], "train")
    mlflow_run = store.get_aspect(train, "mlflowRun")
    metrics = store.get_aspect(train, "metrics")
    evaluations = [e.urn for e in store.related(version, "evaluates", incoming=True)]
assert mlflow_run and metrics, f"{train} has no MLflow run"
assert evaluations, f"no evaluation of {version}"
shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.value.items()))
print(f"   step train logged to MLflow run {mlflow_run.value['run_id']}: {shown}")
print(f"   {version} is evaluated by {', '.join(evaluations)}")
PY
say "aimops lineage $PREFECT_VERSION (upstream: the flow's steps and the data sets, which train_model's load_data writes too; downstream: its evaluation)"
aimops lineage "$PREFECT_VERSION" --depth 10
# The flow's evaluate step is aimops' own Prefect task (aimops.flows.evaluate_model): besides the
# record, it published its progress view as Prefect artifacts, under keys that stay the same for
# every run of the model, so their history accumulates in Prefect's UI (Artifacts).
say "Prefect artifacts of the flow's evaluate step (aimops.flows.evaluate_model): keys, then the summary"
python - "$PREFECT_RUN" <<'PY' || fail "the evaluate step's Prefect artifacts are missing"
import sys

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

flow_run_id = sys.argv[1].rsplit("/", 1)[1]
with get_client(sync_client=True) as client:
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
by_key = {artifact.key: artifact for artifact in artifacts if artifact.key}
summary = by_key.get("aimops-evaluation-breast-cancer-classifier")
assert summary is not None, f"no aimops-evaluation-... artifact; found {sorted(by_key)}"
for key, artifact in sorted(by_key.items()):
    print(f"   {key:<48} {artifact.type}")
print()
print("\n".join(f"   | {line}" for line in str(summary.data).splitlines()))
PY

# The model lifecycle: a version is reviewed on its recorded evidence, approved by a policy and
# published, each step a guarded, audited transition (dags_examples/review_model.py). The
# champion of the evaluation example goes first; the challenger then also needs a passing
# comparison with the published champion, which the example recorded.
read -r CHAMPION CHALLENGER UNEVIDENCED < <(python - "$COMPARISON_URN" "$RUN_URN" <<'PY'
import sys
from aimops.metadata import AimStore
from aimops.metadata.urns import Urn, step_urn

comparison, training_run = sys.argv[1], Urn.parse(sys.argv[2])
with AimStore.open(create=False) as store:
    versions = store.get_aspect(comparison, "evaluationInfo").value["model_versions"]
    step = step_urn("airflow", *training_run.segments[1:], "register_model")
    trained = [e.urn for e in store.related(step, "producedBy", incoming=True)]
print(versions[0], versions[1], trained[0] if trained else versions[0])
PY
)
EARLIER="$(python - "$CHAMPION" "$CHALLENGER" <<'PY'
import sys
from aimops.metadata import AimStore, model_urn
from aimops.metadata.lifecycle import lifecycle_values
from aimops.metadata.urns import Urn

with AimStore.open(create=False) as store:
    model = model_urn(Urn.parse(sys.argv[1]).segments[0])
    versions = [e.urn for e in store.related(model, "versionOf", incoming=True)]
    states = lifecycle_values(store, versions)
print(" ".join(u for u, v in states.items() if v["state"] == "published" and u not in sys.argv[1:]))
PY
)"
for urn in $EARLIER; do  # a re-run of the demo: retire what an earlier demo published
    say "aimops deprecate $urn (published by an earlier demo)"
    aimops deprecate "$urn" --actor demo --force --reason "published by an earlier demo; this demo publishes anew"
done
say "aimops review $UNEVIDENCED (the train_model example's version: no gated evaluation, no data-quality check)"
if aimops review "$UNEVIDENCED" --actor demo --reason "ship it?"; then
    fail "a version without evidence was let into review"
fi
say "refused, as it must be: the line above names every missing piece of evidence"
run_dag review_model "review the champion $CHAMPION on its evidence, approve by policy, publish" \
    "{\"model_version\": \"$CHAMPION\"}" success champion
run_dag review_model "the challenger $CHALLENGER: its evidence now includes the comparison with the published champion" \
    "{\"model_version\": \"$CHALLENGER\"}" success challenger
say "aimops history $CHALLENGER --aspect lifecycle (the audit trail: who, when, why, on what evidence)"
aimops history "$CHALLENGER" --aspect lifecycle
say "aimops models show $MODEL"
aimops models show "$MODEL"
PAGE="$(python -c 'import sys; from aimops.metadata.urns import Urn; from aimops.monitors.reports.page import report_path; print(report_path("default", Urn.parse(sys.argv[1])))' "$CHALLENGER")"
say "the challenger's page (state, history, evidence, evaluations, checks): $PAGE"
[[ -f "$PAGE" ]] || fail "the model version's page was not written: $PAGE"

# Monitoring: a simulated day of clean serving passes every check; a day with covariate drift
# and a latency regression fails the drift, consistency and health checks, and alerts.
export AIMOPS_ALERT_LOG="${AIMOPS_ALERT_LOG:-$AIMOPS_HOME/alerts.log}"
ALERTS_BEFORE="$( [[ -f "$AIMOPS_ALERT_LOG" ]] && wc -l <"$AIMOPS_ALERT_LOG" || echo 0)"
CLEAN_DAY="$(python -c 'import datetime as d; print(d.datetime.now(d.UTC).date() - d.timedelta(days=1))')"
FAULTY_DAY="$(python -c 'import datetime as d; print(d.datetime.now(d.UTC).date())')"
DRIFT="$(python -c 'import json; print(json.dumps({f"{kind}_{name}": 1.5 for kind in ("mean", "worst")
    for name in ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                 "concavity", "concave_points", "symmetry", "fractal_dimension")}))')"
run_dag simulate_serving "a SIMULATED clean day of serving of $MODEL@candidate" \
    "{\"day\": \"$CLEAN_DAY\"}" success clean
run_dag monitor_model "data quality, drift, feature consistency and health of that day" \
    "" success clean
run_dag simulate_serving "a SIMULATED faulty day: covariate drift in 20 features, +900 ms on a quarter of requests" \
    "{\"day\": \"$FAULTY_DAY\", \"latency_regression_ms\": 900, \"drift\": $DRIFT}" success faulty
run_dag monitor_model "the same checks on the faulty day: they must fail and alert" \
    '{"evidently_report": false}' failed faulty

say "aimops checks list --model $MODEL --limit 8"
aimops checks list --model "$MODEL" --limit 8
say "alerts raised (from $AIMOPS_ALERT_LOG; set AIMOPS_ALERT_WEBHOOK to also POST them):"
tail -n +"$((ALERTS_BEFORE + 1))" "$AIMOPS_ALERT_LOG" | python -c '
import json, sys
for line in sys.stdin:
    alert = json.loads(line)
    if alert.get("record") == "alert":
        title, message = alert["title"], alert["message"]
        print(f"   {title}: {message[:200]}")'
VERSION_URN="$(aimops checks list --model "$MODEL" --kind health --json --limit 1 | python -c '
import json, sys
print(json.load(sys.stdin)[0]["target"])')"
say "aimops metrics $VERSION_URN check.health.latency_p99_ms"
aimops metrics "$VERSION_URN" check.health.latency_p99_ms
say "each check's page: $AIMOPS_HOME/reports/check-*.html (and the \"AIM check\" link of its task)"

# Ramps (dags_examples/ramp_model.py) on SIMULATED traffic, as Argo Rollouts runs a canary:
# the champion is rolled out first (the deployment has none); the challenger is then ramped
# 1 -> 5 -> 25 -> 50 -> 100% with an analysis of its requests at every step, and becomes the
# champion; last, the old champion is ramped again with +900 ms of latency: its first
# analysis fails, it is rolled back, the new champion serves 100% again, and an alert is raised.
TRAFFIC_FILE="$AIMOPS_HOME/traffic/$MODEL/production.json"
run_dag ramp_model "roll out the champion ${CHAMPION##*/} (the deployment has no champion: straight to 100%, one analysis)" \
    "{\"version\": \"${CHAMPION##*/}\"}" success rollout
run_dag ramp_model "ramp the challenger ${CHALLENGER##*/}: 1, 5, 25, 50, 100%, each step baked and analysed" \
    "{\"version\": \"${CHALLENGER##*/}\"}" success ramp
say "aimops ramp status $CHALLENGER"
aimops ramp status "$CHALLENGER"
run_dag ramp_model "ramp ${CHAMPION##*/} again, +900 ms on a quarter of its requests: it must be rolled back" \
    "{\"version\": \"${CHAMPION##*/}\", \"latency_regression_ms\": 900}" failed rollback
say "aimops ramp status $CHAMPION"
aimops ramp status "$CHAMPION"
say "the rollback's alert (the last line of $AIMOPS_ALERT_LOG):"
tail -n 1 "$AIMOPS_ALERT_LOG" | python -c '
import json, sys
alert = json.loads(sys.stdin.read())
title, message = alert["title"], alert["message"]
print(f"   {title}: {message[:300]}")'
grep -q "ramp of $MODEL/${CHAMPION##*/} rolled back" "$AIMOPS_ALERT_LOG" || fail "no alert for the rollback"
say "the traffic file a serving layer reads ($TRAFFIC_FILE):"
cat "$TRAFFIC_FILE"
python - "$TRAFFIC_FILE" "${CHALLENGER##*/}" <<'PY' || fail "the challenger is not the champion at 100%"
import json, sys
traffic = json.load(open(sys.argv[1]))
assert traffic["weights"] == {sys.argv[2]: 100} and traffic["champion"] == sys.argv[2], traffic
PY
say "aimops models show $MODEL"
aimops models show "$MODEL"
PAGE="$(python -c 'import sys; from aimops.metadata.urns import Urn; from aimops.monitors.reports.page import report_path; print(report_path("default", Urn.parse(sys.argv[1])))' "$CHALLENGER")"
say "the challenger's page now shows its traffic over time and every step's gates: $PAGE"

if [[ -z "${MLFLOW_TRACKING_URI:-}" ]]; then
    say "MLflow's side: mlflow ui --backend-store-uri sqlite:///$AIMOPS_HOME/mlflow/mlflow.db"
fi
say "done in $(elapsed "$START") s"
