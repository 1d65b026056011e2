"""Building architectures from the best modules (paper Sec. 5.1 "Architecture Construction", 7.2, 7.9):
top-K selection per stage, reduced search spaces and exact k-best enumeration over them."""

from .kbest import kbest_product
from .pipeline import build_from_equations, train_score_select
from .reduced import ReducedSpace, load_reduced, reduced_from_dict
from .select import select_modules, unite

__all__ = ["ReducedSpace", "build_from_equations", "kbest_product", "load_reduced", "reduced_from_dict",
           "select_modules", "train_score_select", "unite"]
