import pytest

from posekit.config import (
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)


def test_round_trip(tmp_path):
    overrides = ["optim.lr=1e-3", "--codec.input_size", "[96, 128]"]
    cfg = apply_overrides(ExperimentConfig(name="c"), overrides)
    assert cfg.optim.lr == 1e-3 and cfg.codec.input_size == (96, 128)
    save_config(cfg, tmp_path / "c.yaml")
    again = load_config(tmp_path / "c.yaml")
    assert config_to_dict(again) == config_to_dict(cfg)


def test_unknown_key_names_the_key(tmp_path):
    (tmp_path / "bad.yaml").write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown config key 'optim.lrr'"):
        load_config(tmp_path / "bad.yaml")


def test_wrong_type_names_the_key():
    with pytest.raises(TypeError, match=r"data.batch_size: expected an integer"):
        config_from_dict({"data": {"batch_size": "many"}})
    with pytest.raises(ValueError, match=r"codec.input_size: expected 2 values"):
        config_from_dict({"codec": {"input_size": [1, 2, 3]}})


def test_override_errors():
    with pytest.raises(ValueError, match="unknown config key 'optim.nope'"):
        apply_overrides(ExperimentConfig(), ["optim.nope=1"])
    cfg = apply_overrides(ExperimentConfig(), ["model.kwargs.width=8"])
    assert cfg.model.kwargs == {"width": 8}


def test_name_defaults_to_file_stem(tmp_path):
    (tmp_path / "simplebaseline_tiny.yaml").write_text("train:\n  seed: 3\n")
    cfg = load_config(tmp_path / "simplebaseline_tiny.yaml")
    assert cfg.name == "simplebaseline_tiny" and cfg.train.seed == 3
