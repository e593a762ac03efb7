"""Getting models out of and into posekit: ONNX export + onnxruntime runner (:mod:`.onnx`) and
conversion of reference implementations' checkpoints (:mod:`.convert`).

Imported lazily (onnx and onnxruntime are optional dependencies: ``pip install posekit[onnx]``).
"""
