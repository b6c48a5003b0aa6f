"""``foretune explain``: load an ensemble, attribute, write the files, print where they are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .attribution import require_captum
from .ensemble import Explanation, explain_ensemble


def default_out_dir(model: str | Path) -> Path:
    """``<model>/../explain``: next to the ensemble directory, inside its run directory."""
    return Path(model).resolve().parent / "explain"


def explain_command(
    model: str | Path,
    data: pd.DataFrame | str | Path,
    series: Sequence[Any] | None = None,
    step: int = 1,
    target: str = "forecast",
    baseline: str = "zeros",
    out: str | Path | None = None,
    **kw: Any,
) -> Explanation:
    """Explain ensemble ``model`` on ``data`` and write the files to ``out`` (see ``save``).

    Extra keywords go to :func:`~foretune.explain.explain_ensemble` (``direction_class``,
    ``tolerance``, ``n_steps``, ...). Returns the :class:`Explanation`.
    """
    from foretune.ensemble import Ensemble

    require_captum()  # before the (slower) load, so a missing extra fails first
    ensemble = Ensemble.load(model)
    explanation = explain_ensemble(
        ensemble, data, series=series, step=step, target=target, baseline=baseline, **kw
    )
    explanation.summary["model"] = str(Path(model).resolve())
    explanation.summary["data"] = (
        "<DataFrame>" if isinstance(data, pd.DataFrame) else str(Path(data).resolve())
    )
    out_dir = Path(out) if out else default_out_dir(model)
    explanation.save(out_dir)
    check = explanation.summary["completeness"]
    n_series = len(explanation.summary["series"])
    print(
        f"attributions of {explanation.summary['target_label']} at step {step} for {n_series} "
        f"series ({len(explanation.attributions)} rows) written to {out_dir}; completeness: "
        f"max relative error {check['max_relative_error']:.2e} with up to "
        f"{check['max_n_steps']} steps" + ("" if check["all_converged"] else " (NOT converged)")
    )
    return explanation
