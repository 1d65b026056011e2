"""Building architectures from the best modules (paper Sec. 5.1 "Architecture Construction", 7.2, 7.9):
top-K selection per stage, reduced search spaces and exact k-best enumeration over them;
:func:`build` is the one call."""

from .build import BuildResult, build
from .kbest import kbest_product, kbest_valid
from .pipeline import build_from_equations, train_score_select
from .reduced import ReducedSpace, load_reduced, reduced_from_dict
from .select import select_modules, unite

__all__ = ["BuildResult", "ReducedSpace", "build", "build_from_equations", "kbest_product", "kbest_valid",
           "load_reduced", "reduced_from_dict", "select_modules", "train_score_select", "unite"]
