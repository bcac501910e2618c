"""Model evaluation: binary, multiclass and regression metrics, fairness slices, paired
comparison of versions, gates, pluggable analyzers, and recording evaluations in the store.

The public names are re-exported by :mod:`aimops.monitors`; the jobs the operators and Prefect
tasks wrap are in :mod:`aimops.monitors.evaluation.jobs`.
"""
