"""BottomUpTask: targets from augmented full images, loss falls, evaluate/predict, export API."""

import numpy as np
import torch

from posekit.config import apply_overrides, load_config
from posekit.engine.tasks import TASKS, build_task
from tests.conftest import REAL_COCO_JSON  # noqa: F401  (path of the 4-image COCO sample)


def _cfg(*extra):
    cfg = load_config("configs/openpose/openpose_light_synthpose_256.yaml")
    return apply_overrides(cfg, [
        f"data.train_ann={REAL_COCO_JSON}", f"data.val_ann={REAL_COCO_JSON}",
        "codec.input_size=[128, 128]", "codec.heatmap_size=[16, 16]", "data.batch_size=2",
        "data.max_val_images=0", *extra,
    ])


def test_bottomup_registered_and_targets_consistent():
    task = build_task(_cfg("augment.flip_prob=0.0", "augment.rotate_factor=0.0",
                           "augment.scale_range=[1.0, 1.0]"))
    assert isinstance(task, TASKS["bottomup"])
    assert task.paradigm == "bottomup" and not task.needs_detector
    ds = task.train_dataset()
    item = ds[0]
    assert item["image"].shape == (3, 128, 128)
    assert item["heatmaps"].shape == (19, 16, 16) and item["pafs"].shape == (38, 16, 16)
    assert item["mask"].shape == (16, 16)
    assert item["heatmaps"][:18].max() > 0.5  # people are drawn
    assert torch.allclose(item["heatmaps"][18], 1 - item["heatmaps"][:18].amax(0))


def test_flip_augmentation_mirrors_targets():
    base = _cfg("augment.rotate_factor=0.0", "augment.scale_range=[1.0, 1.0]")
    plain = build_task(apply_overrides(base, ["augment.flip_prob=0.0"])).train_dataset()[0]
    flipped = build_task(apply_overrides(base, ["augment.flip_prob=1.0"])).train_dataset()[0]
    from posekit.pipelines.bottomup import flip_maps
    from posekit.skeletons import OPENPOSE18

    fh, fp = flip_maps(flipped["heatmaps"][None], flipped["pafs"][None], OPENPOSE18)
    # Mirroring at map resolution equals the mirrored image's targets up to the rendering grid.
    assert torch.allclose(fh[0], plain["heatmaps"], atol=0.35)
    assert (fh[0] - plain["heatmaps"]).abs().mean() < 0.02
    assert (fp[0] - plain["pafs"]).abs().mean() < 0.02


def test_loss_falls_and_evaluate_runs():
    torch.manual_seed(0)
    task = build_task(_cfg())
    model = task.build_model()
    ds = task.train_dataset()
    batch = {k: torch.stack([ds[i][k] for i in range(2)]) for k in ds[0]}
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(15):
        loss = task.loss(model, batch, torch.device("cpu"))["loss"]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first
    model.eval()
    task.cfg.data.max_val_images = 1  # one 640×425 image keeps the test fast
    report = task.evaluate(model)
    assert report is not None
    net = task.inference_model(model)
    hm, paf = net(task.example_input(2))
    assert hm.shape == (2, 19, 16, 16) and paf.shape == (2, 38, 16, 16)
    pipe = task.pipeline(net)
    pipe(np.zeros((100, 140, 3), np.uint8))
    assert {"preprocess", "network", "grouping"} <= set(pipe.timing)
