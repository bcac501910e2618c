"""Served requests: the reader of a fleet's daily request logs and feature snapshots (which
owns their file names, :mod:`~aimops.monitors.serving.logs`) and a faithful simulator of such a
fleet for demos and tests (:mod:`~aimops.monitors.serving.simulator`).
"""
