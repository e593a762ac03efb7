import pytest
import torch

from posekit.engine.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_weights_only(tmp_path):
    state = {"model": {"w": torch.arange(4.0)}, "epoch": 3, "config": {"a": [1, 2]}}
    path = save_checkpoint(state, tmp_path / "sub" / "last.pt")
    back = load_checkpoint(path)
    assert back["epoch"] == 3 and torch.equal(back["model"]["w"], state["model"]["w"])
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left behind


def test_failed_write_keeps_previous_file(tmp_path):
    path = save_checkpoint({"model": {}, "epoch": 1}, tmp_path / "last.pt")
    with pytest.raises(Exception):  # noqa: B017 - pickling a lambda fails inside torch.save
        save_checkpoint({"model": {}, "bad": lambda: 0}, path)
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable posekit checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'model' entry"):
        load_checkpoint(tmp_path / "other.pt")
    # weights_only=True refuses arbitrary pickled objects.
    torch.save({"model": {}, "obj": object()}, tmp_path / "unsafe.pt")
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(tmp_path / "unsafe.pt")
