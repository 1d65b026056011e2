"""Building architectures from the best modules (paper Sec. 5.1 "Architecture Construction", 7.2, 7.9):
top-K selection per stage, reduced search spaces and exact k-best enumeration over them."""

from .kbest import kbest_product
from .reduced import ReducedSpace, load_reduced, reduced_from_dict
from .select import select_modules, unite

__all__ = ["ReducedSpace", "kbest_product", "load_reduced", "reduced_from_dict", "select_modules", "unite"]
