"""Module scoring (paper Sec. 4.2, 5.1, 5.3): enumerate every module of a space, score it with
trained predictors, calibrate the scores across hop levels with Eq. 5, and ensemble them."""

from .scorer import ModuleScores, module_count, read_scores, score_modules, write_scores

__all__ = ["ModuleScores", "module_count", "read_scores", "score_modules", "write_scores"]
