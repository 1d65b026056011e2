"""The AutoBuild predictor: FE-MLP (Sec. 4.3), GATv2 message passing with per-hop graph
embeddings (Eq. 2), the hop-level ranking loss (Eq. 4), training (Sec. 7.1) and model artifacts."""

from .artifact import ModelArtifact, load_model
from .fe_mlp import FEMLP
from .predictor import AutoBuildPredictor
from .trainer import TrainConfig, train_predictor

__all__ = ["FEMLP", "AutoBuildPredictor", "ModelArtifact", "TrainConfig", "load_model", "train_predictor"]
