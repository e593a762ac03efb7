"""ONNX export of the bottom-up network (task.inference_model) matches PyTorch within 1e-4."""

import numpy as np
import onnxruntime as ort
import torch

from posekit.models import build_model
from posekit.models.stages import LastStage
from posekit.pipelines.bottomup import BottomUp


def test_onnx_export_parity_and_pipeline_runner(tmp_path):
    torch.manual_seed(0)
    model = build_model("openpose_light", paf_width=8, heatmap_width=8, num_blocks=1).eval()
    net = LastStage(model, order=(1, 0)).eval()  # OpenPose's (PAFs, heatmaps) → (heatmaps, PAFs)
    x = torch.randn(1, 3, 64, 96)
    path = tmp_path / "openpose.onnx"
    torch.onnx.export(net, (x,), str(path), input_names=["image"],
                      output_names=["heatmaps", "pafs"], opset_version=17, dynamo=False,
                      dynamic_axes={"image": {0: "b", 2: "h", 3: "w"}})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def runner(t: torch.Tensor):
        hm, paf = sess.run(None, {"image": t.numpy()})
        return torch.from_numpy(hm), torch.from_numpy(paf)

    with torch.no_grad():
        ref_hm, ref_paf = net(x)
        hm, paf = runner(x)
        assert hm.shape == (1, 19, 8, 12) and paf.shape == (1, 38, 8, 12)
        np.testing.assert_allclose(hm.numpy(), ref_hm.numpy(), atol=1e-4, rtol=0)
        np.testing.assert_allclose(paf.numpy(), ref_paf.numpy(), atol=1e-4, rtol=0)
        # The onnxruntime runner replaces the module inside the pipeline (other input size too).
        image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
        a = BottomUp(net, input_height=64, preprocess="imagenet").maps(image)
        b = BottomUp(runner, input_height=64, preprocess="imagenet").maps(image)
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    np.testing.assert_allclose(a[1], b[1], atol=1e-4)
