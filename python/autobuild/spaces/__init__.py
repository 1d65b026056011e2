"""Search spaces: the generic macro "stage -> layers" space, built-ins and user space files."""

from .builtin import ofa_mbv3, ofa_pn
from .feature import Feature
from .loader import get_space, list_spaces, load_space_file, space_from_dict
from .macro import FeatureCategory, MacroSpace, Stage

__all__ = [
    "Feature", "FeatureCategory", "MacroSpace", "Stage", "get_space", "list_spaces",
    "load_space_file", "space_from_dict", "ofa_mbv3", "ofa_pn",
]
