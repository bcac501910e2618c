"""A small churn-model pipeline in plain Python, recorded in the AIM store, then shown.

It makes a synthetic customer table, splits it, trains a logistic regression with numpy,
evaluates it (AUROC) and registers a model version; every step, data set, artifact and the
model version are recorded with lineage. Then it prints what was captured through the
``aimops`` CLI: the runs, this run's steps, the lineage from the raw data to the model
version, and the model's versions. The store lives under ``$AIMOPS_HOME`` (``make demo``
sets ``.aimops-demo`` in the repository unless you set it yourself).

Run: ``make demo`` (or ``.venv/bin/python dags_examples/python_pipeline.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import aimops
from aimops.metadata import AimStore
from aimops.settings import aimops_home

FEATURES = ("tenure_months", "monthly_charges", "support_calls", "is_annual_plan")


def make_customers(path: Path, rows: int = 5_000, seed: int = 7) -> None:
    """Write a synthetic customer table whose churn depends on the features."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    charges = rng.normal(70, 20, rows).clip(15, 150)
    calls = rng.poisson(1.5, rows)
    annual = rng.integers(0, 2, rows)
    logit = -1.0 - 0.05 * tenure + 0.02 * charges + 0.6 * calls - 1.2 * annual
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    table = np.column_stack([tenure, charges, calls, annual, churn.astype(int)])
    header = ",".join((*FEATURES, "churned"))
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.4f")


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get average ranks)."""
    order = scores.argsort()
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    positives = labels.sum()
    negatives = len(labels) - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def train_logistic(x: np.ndarray, y: np.ndarray, steps: int, rate: float) -> np.ndarray:
    """Weights of a logistic regression fitted by gradient descent (bias last)."""
    design = np.column_stack([x, np.ones(len(x))])
    weights = np.zeros(design.shape[1])
    for _ in range(steps):
        predictions = 1 / (1 + np.exp(-design @ weights))
        weights -= rate * design.T @ (predictions - y) / len(y)
    return weights


def predict(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.column_stack([x, np.ones(len(x))]) @ weights))


def run_pipeline(store: AimStore, workdir: Path) -> aimops.PipelineRun:
    """The pipeline: prepare → train → evaluate, each step recorded with its inputs/outputs."""
    raw_path = workdir / "customers.csv"
    make_customers(raw_path)
    with aimops.PipelineRun("churn-training", store=store, project="churn") as run:
        with run.step("prepare") as step:
            table = np.loadtxt(raw_path, delimiter=",", skiprows=1)
            step.consumes_dataset(
                "customers-raw",
                uri=raw_path.as_uri(),
                rows=len(table),
                columns=[*FEATURES, "churned"],
                format="csv",
            )
            mean, std = table[:, :-1].mean(axis=0), table[:, :-1].std(axis=0)
            table[:, :-1] = (table[:, :-1] - mean) / std
            split = int(len(table) * 0.8)
            np.save(workdir / "train.npy", table[:split])
            np.save(workdir / "test.npy", table[split:])
            step.produces_dataset(
                "customers-train", uri=(workdir / "train.npy").as_uri(), rows=split
            )
            step.produces_dataset(
                "customers-test", uri=(workdir / "test.npy").as_uri(), rows=len(table) - split
            )

        with run.step("train") as step:
            train = np.load(workdir / "train.npy")
            step.consumes_dataset("customers-train")
            params = {"steps": 400, "learning_rate": 0.5}
            weights = train_logistic(
                train[:, :-1], train[:, -1], params["steps"], params["learning_rate"]
            )
            model_path = workdir / f"model-{run.run_id}.npy"
            np.save(model_path, weights)
            step.log_params(params)
            step.log_metrics({"train_auroc": auroc(train[:, -1], predict(weights, train[:, :-1]))})
            model_file = step.produces_artifact(
                model_path.name,
                kind="model",
                uri=model_path.as_uri(),
                size_bytes=model_path.stat().st_size,
            )
            version = len(store.related("urn:aim:model:churn", "versionOf", incoming=True)) + 1
            model_version = step.registers_model_version(
                "churn", version, uri=model_path.as_uri(), framework="numpy"
            )

        with run.step("evaluate") as step:
            test = np.load(workdir / "test.npy")
            step.consumes_dataset("customers-test")
            step.consumes(model_file)
            metrics = {
                "auroc": auroc(test[:, -1], predict(weights, test[:, :-1])),
                "positive_rate": float(test[:, -1].mean()),
            }
            report = workdir / f"evaluation-{run.run_id}.json"
            report.write_text(json.dumps(metrics, indent=2))
            step.log_metrics(metrics)
            step.produces_artifact(report.name, kind="report", uri=report.as_uri())
            evaluation = aimops.Urn("evaluation", ("churn", str(version), run.run_id))
            with store.transaction() as tx:
                tx.put_aspect(evaluation, "metrics", metrics)
                tx.put_edge(evaluation, "evaluates", model_version)
                tx.put_edge(evaluation, "consumed", "urn:aim:dataset:customers-test")
    return run


def show(title: str, *args: str) -> None:
    """Print a CLI command and what it prints, as a user would see it."""
    print(f"\n$ aimops {' '.join(args)}    # {title}", flush=True)
    executable = shutil.which("aimops", path=str(Path(sys.executable).parent)) or "aimops"
    subprocess.run([executable, *args], check=True)


def main() -> int:
    home = aimops_home()
    workdir = home / "demo-data"
    workdir.mkdir(parents=True, exist_ok=True)
    print(f">> AIM store: {os.environ.get('AIMOPS_STORE_URL') or home / 'aim.db'}")
    store = aimops.connect(actor="demo")
    print(">> running the churn-training pipeline (prepare -> train -> evaluate)")
    run = run_pipeline(store, workdir)
    show("runs, newest first", "runs", "list", "--limit", "5")
    show("this run, its steps, inputs and outputs", "runs", "show", str(run.urn))
    show(
        "from the raw data to the model version",
        "lineage",
        "urn:aim:dataset:customers-raw",
        "--downstream",
        "--depth",
        "10",
    )
    show("the model and its versions", "models", "show", "churn")
    show(
        "the audit trail of the training step",
        "history",
        str(aimops.Urn("step", ("python", "churn-training", run.run_id, "train"))),
        "--aspect",
        "stepAttempts",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
