"""Resumable training state, determinism and the divergence guard, through ``fit`` on CPU."""

from __future__ import annotations

import math

import pytest
import torch

from foretune.train import fit, read_state, write_state

TIMING = {"train_seconds", "epoch_seconds", "score_seconds"}


class Crash(RuntimeError):
    pass


def _same_metrics(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k not in TIMING} == {k: v for k, v in b.items() if k not in TIMING}


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize(
    "settings",
    [
        {"architecture": "mlp", "schedule": "warmup_cosine", "warmup_epochs": 1.0},
        # lr 0.03: cuts at epochs 2, 3 and 5, so the crash lands mid-plateau (1 bad epoch)
        {
            "architecture": "lstm",
            "schedule": "plateau",
            "plateau_patience": 1,
            "learning_rate": 0.03,
            "optimizer": "adamw",
            "weight_decay": 0.01,
        },
    ],
    ids=["mlp-warmup-cosine", "lstm-plateau-adamw"],
)
def test_resume_after_a_crash_gives_the_same_result(prepared, spec_of, recorder, tmp_path, settings):
    spec = spec_of(max_epochs=6, patience=4, **settings)  # dropout on: RNG state matters
    straight = recorder()
    fit(spec, prepared, straight, device="cpu")

    # the same run, killed in the report of epoch 2 (its state was saved just before)
    first = recorder()

    def crash_at_epoch_2(metrics, payload):
        first(metrics, payload)
        if metrics.get("epoch") == 2:
            raise Crash

    with pytest.raises(Crash):
        fit(
            spec,
            prepared,
            crash_at_epoch_2,
            device="cpu",
            save_state=lambda state: write_state(tmp_path, state),
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "state.pt"]  # one file, replaced per epoch
    state = read_state(tmp_path)  # torch.load(weights_only=True): tensors and plain values
    assert state["epoch"] == 2

    resumed = recorder()
    fit(spec, prepared, resumed, device="cpu", resume_from=state)
    assert [m["epoch"] for m in resumed.epochs] == [3, 4, 5]
    for a, b in zip(straight.epochs, first.epochs + resumed.epochs, strict=True):
        _same_metrics(a, b)
    _same_metrics(straight.final[0], resumed.final[0])
    _assert_same_weights(straight.final[1]["state_dict"], resumed.final[1]["state_dict"])


def test_resume_rejects_another_model(prepared, spec_of, recorder):
    states = []
    fit(spec_of(max_epochs=1), prepared, recorder(), device="cpu", save_state=states.append)
    with pytest.raises(ValueError, match="different model"):
        fit(spec_of("lstm", max_epochs=2), prepared, recorder(), device="cpu", resume_from=states[-1])


def test_resume_from_a_finished_state_only_reports(prepared, spec_of, recorder):
    states, first = [], recorder()
    fit(spec_of(max_epochs=2), prepared, first, device="cpu", save_state=states.append)
    again = recorder()
    fit(spec_of(max_epochs=2), prepared, again, device="cpu", resume_from=states[-1])
    assert again.epochs == []
    _same_metrics(first.final[0], again.final[0])


def test_same_seed_same_result_other_seed_differs(prepared, spec_of, recorder):
    runs = []
    for seed in (0, 0, 1):
        rec = recorder()
        result = fit(spec_of("lstm", max_epochs=3, seed=seed), prepared, rec, device="cpu")
        runs.append((rec, result))
    (a, ra), (b, rb), (c, _) = runs
    assert a.epochs == b.epochs
    _same_metrics(a.final[0], b.final[0])
    _assert_same_weights(ra.model.state_dict(), rb.model.state_dict())
    assert a.epochs[-1]["val_loss"] != c.epochs[-1]["val_loss"]


def test_absurd_learning_rate_diverges_without_exception(prepared, spec_of, recorder):
    states, rec = [], recorder()
    result = fit(
        spec_of(learning_rate=1e6, clip_norm=None, max_epochs=5, loss="mse"),
        prepared,
        rec,
        device="cpu",
        save_state=states.append,
    )
    metrics, payload = rec.final
    assert result.status == metrics["status"] == "diverged"
    assert "non-finite" in metrics["reason"] and "learning_rate" in metrics["reason"]
    assert payload is None  # never a checkpoint of a diverged trial
    assert states == [] and rec.epochs == []  # it blew up in epoch 0: nothing was handed out
    assert metrics["epoch"] == 0 and metrics["val_loss"] == math.inf
    assert result.model is None


def test_divergence_after_good_epochs_keeps_only_finite_state(prepared, spec_of, recorder, monkeypatch):
    from foretune.train.epoch import Trainer

    original = Trainer.train_epoch
    calls = []

    def poisoned(self):  # weights blow up during the third epoch
        loss = original(self)
        calls.append(loss)
        if len(calls) == 3:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("inf"))
        return loss

    monkeypatch.setattr(Trainer, "train_epoch", poisoned)
    states, rec = [], recorder()
    result = fit(spec_of(max_epochs=5), prepared, rec, device="cpu", save_state=states.append)
    metrics, payload = rec.final
    assert metrics["status"] == "diverged" and "epoch 2" in metrics["reason"]
    assert payload is None
    assert [s["epoch"] for s in states] == [m["epoch"] for m in rec.epochs] == [0, 1]
    for state in states:
        for tensors in (state["model"], state["best_state"]):
            assert all(torch.isfinite(t).all() for t in tensors.values())
    # the caller still gets the best finite weights, and the metrics of the good epochs
    assert metrics["best_epoch"] in (0, 1) and math.isfinite(metrics["val_loss"])  # a good epoch
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
