"""Evaluation: metrics (``metrics``), baselines (``baselines``) and reports (``report``).

Import from the submodules, e.g. ``from foretune.evaluate.metrics import mase``; this package
module imports nothing so that ``metrics`` stays cheap to load.
"""
