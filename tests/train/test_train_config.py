"""Training settings: an impossible request fails before any training with an error naming the key,
and a ``TrainSpec`` takes its defaults from the config."""

from __future__ import annotations

import pytest

from foretune.config import ConfigError, ExperimentConfig


def _train(**train):
    return ExperimentConfig.from_dict({"train": train})


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_autocast_without_a_gpu_is_a_config_error(precision):
    with pytest.raises(ConfigError, match=r"train\.precision") as err:
        _train(precision=precision)
    assert "use_gpu" in str(err.value)
    assert _train(precision=precision, use_gpu=True).train.precision == precision
    assert _train(precision="fp32").train.precision == "fp32"


def test_negative_learning_rate_names_the_key():
    with pytest.raises(ConfigError, match=r"train\.learning_rate=-0\.1"):
        _train(learning_rate=-0.1)


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"schedule": "warmup_cosine"}, "train.warmup_epochs"),
        ({"schedule": "cosine", "warmup_epochs": 1}, "train.warmup_epochs"),
        ({"schedule": "sawtooth"}, "train.schedule"),
        ({"accumulate_steps": 0}, "train.accumulate_steps"),
        ({"clip_value": -1.0}, "train.clip_value"),
        ({"plateau_factor": 1.5}, "train.plateau_factor"),
        ({"stream_threshold_mb": -1}, "train.stream_threshold_mb"),
        ({"loss": "quantile"}, "train.loss"),
    ],
)
def test_bad_loop_settings_name_their_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _train(**settings)


def test_window_longer_than_the_series_is_padded_not_refused():
    from foretune.data import RatioTransform, prepare, read_frame, validate

    series = validate(read_frame(None))  # 8 series of 203 quarters
    prepared = prepare(series, window=400, horizon=4, transform=RatioTransform("log_ratio"))
    mask = prepared.train.x[..., -1]  # the last feature says which input steps are real
    assert len(prepared.train) > 0 and prepared.train.x.shape[1] == 400
    assert (mask[:, 0] == 0).all() and (mask[:, -1] == 1).all()
    assert prepared.summary.line().startswith("data: 8 series")


def test_spec_for_passes_the_loop_settings():
    from foretune.search import spec_for

    config = ExperimentConfig.from_dict(
        {
            "train": {
                "schedule": "inverse_sqrt",
                "warmup_epochs": 2,
                "min_lr_ratio": 0.1,
                "clip_value": 0.5,
                "accumulate_steps": 3,
                "plateau_factor": 0.3,
                "plateau_patience": 4,
                "compile": True,
                "stream_threshold_mb": 64,
                "loss": "huber",
                "use_gpu": True,
                "precision": "bf16",
            }
        }
    )
    spec = spec_for(config, architecture="mlp", window=8)
    for key, value in config.train.model_dump().items():
        if hasattr(spec, key):
            assert getattr(spec, key) == value, key


def test_check_resources_against_the_running_cluster(ray_session):
    from foretune.search.resources import check_resources

    config = ExperimentConfig.from_dict
    check_resources(config({"train": {"num_workers": 2, "cpus_per_worker": 0.5}}))  # fits
    check_resources(config({"train": {"num_workers": 0}}))

    with pytest.raises(ConfigError, match=r"train\.num_workers=3") as err:
        check_resources(config({"train": {"num_workers": 3, "cpus_per_worker": 1.0}}))
    assert "2 CPU(s) and 0 GPU(s)" in str(err.value)  # says what the cluster has
    with pytest.raises(ConfigError, match=r"train\.num_workers=1 with train\.use_gpu=true"):
        check_resources(config({"train": {"num_workers": 1, "cpus_per_worker": 0.5, "use_gpu": True}}))
    with pytest.raises(ConfigError, match=r"train\.use_gpu=true"):
        check_resources(config({"train": {"use_gpu": True}}))  # inline trial asking 1 GPU
    with pytest.raises(ConfigError, match=r"train\.cpus_per_worker=4"):
        check_resources(config({"train": {"num_workers": 1, "cpus_per_worker": 4}}))
    with pytest.raises(ConfigError, match=r"search\.cpus_per_trial=3"):
        check_resources(config({"search": {"cpus_per_trial": 3}}))


def test_one_process_asks_an_inline_trial_or_one_ray_train_workers_share():
    from foretune.search.resources import process_request, trial_request

    inline = ExperimentConfig.from_dict({"search": {"cpus_per_trial": 2}, "train": {"gpus_per_trial": 0.25}})
    assert process_request(inline) == trial_request(inline) == {"CPU": 2, "GPU": 0.25}
    workers = ExperimentConfig.from_dict(
        {"train": {"num_workers": 4, "cpus_per_worker": 3, "use_gpu": True}, "search": {"max_concurrent": 1}}
    )
    assert process_request(workers) == {"CPU": 3, "GPU": 1.0}
    assert trial_request(workers)["GPU"] == 4.0


def test_train_spec_defaults_are_the_configs():
    from foretune.config import TrainConfig
    from foretune.train import TrainSpec

    spec, config = TrainSpec("mlp", {}, window=8, horizon=4), ExperimentConfig()
    shared = [key for key in TrainConfig.model_fields if hasattr(spec, key)]
    assert len(shared) >= 19
    for key in shared:
        assert getattr(spec, key) == getattr(config.train, key), key
    assert spec.seed == config.seed and spec.extra == {}


def test_train_spec_round_trips_and_reads_a_stored_dict_without_newer_settings():
    from foretune.train import TrainSpec

    spec = TrainSpec("lstm", {"hidden": 8}, window=12, horizon=3, loss="huber", seed=7)
    assert TrainSpec(**spec.to_dict()) == spec
    stored = {"architecture": "mlp", "hyperparameters": {}, "window": 8, "horizon": 4, "max_epochs": 3}
    old = TrainSpec(**stored)
    assert old.max_epochs == 3 and old.to_dict() == {**TrainSpec("mlp", {}, 8, 4).to_dict(), "max_epochs": 3}
