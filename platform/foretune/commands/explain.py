"""``foretune explain``: attribute a saved ensemble's forecast and write the files.

    explanation = explain_command(model="RUN/ensemble", data="history.parquet", series=None,
                                  step=1, target="forecast", baseline="zeros", out=None)

Without ``out`` the files go to ``RUN/explain``, next to the ensemble (``default_out_dir``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.ensemble import Ensemble
from foretune.explain import Explanation, explain_ensemble, require_captum
from foretune.rundir import RunDir
from foretune.storage import check_output_dir, staged


def default_out_dir(model: str | Path) -> Path:
    """``<model>/../explain``: next to the ensemble directory, inside its run directory."""
    return RunDir(Path(model).resolve().parent).explain


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
    """Explain ensemble ``model`` on ``data``, write the files to ``out`` and say where.

    Extra keywords go to :func:`~foretune.explain.explain_ensemble` (``direction_class``,
    ``tolerance``, ``n_steps``, ...). Returns the :class:`~foretune.explain.Explanation`.
    """
    require_captum()  # before loading the ensemble, so a missing extra is the first error
    if out is not None:  # before any work: never into the model's or the data's own directory
        check_output_dir(out, inputs={"--model": model, "--data": data})
    ensemble = Ensemble.load(model)
    explanation = explain_ensemble(
        ensemble, data, series=series, step=step, target=target, baseline=baseline, **kw
    )
    explanation.summary["model"] = str(Path(model).resolve())
    explanation.summary["data"] = (
        "<DataFrame>" if isinstance(data, pd.DataFrame) else str(Path(data).resolve())
    )
    out_dir = Path(out) if out else default_out_dir(model)
    with staged(out_dir) as local:  # each file lands whole, or none on a failure
        explanation.save(local)
    check = explanation.summary["completeness"]
    n_series = len(explanation.summary["series"])
    print(
        f"attributions of {explanation.summary['target_label']} at step {step} for {n_series} "
        f"series ({len(explanation.attributions)} rows) written to {out_dir}; completeness: "
        f"max relative error {check['max_relative_error']:.2e} with up to "
        f"{check['max_n_steps']} steps" + ("" if check["all_converged"] else " (NOT converged)")
    )
    return explanation
