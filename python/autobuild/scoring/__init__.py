"""Module scoring (paper Sec. 4.2, 5.1, 5.3): enumerate every stage subgraph of a space, score it with
trained predictors, calibrate the scores across hop levels with Eq. 5, and ensemble them."""

from .modules import ModuleSet, enumerate_group, layers_to_module, module_codes, module_layers
from .scorer import ModuleScores, read_scores, score_modules, write_scores

__all__ = [
    "ModuleScores", "ModuleSet", "enumerate_group", "layers_to_module", "module_codes", "module_layers",
    "read_scores", "score_modules", "write_scores",
]
