"""The trainer program (``python -m mloop.trainer``): one TrainingRun's stages, from data to ONNX.

Importing this package is cheap on purpose (no sklearn, no onnxruntime); the operator reads ``result.json``
through ``mloop.reconcile.results`` and never imports the trainer.
"""

from mloop.trainer.result import STAGES, TRAINER_VERSION

__all__ = ["STAGES", "TRAINER_VERSION"]
