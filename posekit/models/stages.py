"""The inference view of a model trained with intermediate supervision: its last stage only.

CPM, Hourglass and CPN return a list of stage (or level) heatmaps, OpenPose a pair of lists
(PAF stages, heatmap stages); training supervises every entry, while inference, ONNX export and
the onnxruntime runner use only the last stage of each.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["LastStage"]


class LastStage(nn.Module):
    """``forward(images)`` → the last stage of each of the model's outputs, as plain tensors.

    A tuple of lists gives the tuple of their last entries (reordered by ``order`` when given);
    a list or tuple of tensors gives its last entry; a tensor passes through.

    Args:
        model: the multi-stage (or single-stage) pose model.
        order: output positions to return, in this order (OpenPose's (PAFs, heatmaps) read as
            (heatmaps, PAFs): ``(1, 0)``); None keeps the model's order.
    """

    def __init__(self, model: nn.Module, order: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.model = model
        self.order = order

    def forward(self, images: Tensor) -> Tensor | tuple[Tensor, ...]:
        out = self.model(images)
        if isinstance(out, tuple) and out and all(isinstance(o, list) for o in out):
            last = tuple(o[-1] for o in out)  # one staged output per map kind (OpenPose)
            return last if self.order is None else tuple(last[i] for i in self.order)
        return out[-1] if isinstance(out, list | tuple) else out
