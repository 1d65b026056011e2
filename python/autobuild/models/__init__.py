"""The AutoBuild predictor: FE-MLP (Sec. 4.3), GATv2 message passing with per-hop graph
embeddings (Eq. 2), the hop-level ranking loss (Eq. 4), training (Sec. 7.1) and model artifacts;
the k-GNN latency predictor (supp. Sec. 7.4) and the ONNX evaluator of the search.

Names are imported lazily so that ``import autobuild.models.x`` loads only what it needs."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FEMLP": "fe_mlp",
    "AutoBuildPredictor": "predictor",
    "TrainConfig": "trainer",
    "train_predictor": "trainer",
    "ModelArtifact": "artifact",
    "load_model": "artifact",
    "save_model": "artifact",
    "OnnxPredictor": "inference",
    "KGNNPredictor": "kgnn",
    "KGNNConfig": "kgnn",
    "train_kgnn": "kgnn",
    "OnnxEvaluator": "evaluators",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
