"""Search spaces: the protocol every space implements, the macro "stage -> layers" space, the
registry of built-in spaces, and user space files."""

from .feature import Feature
from .loader import get_space, list_spaces, load_space_file, space_from_dict
from .macro import FeatureCategory, MacroSpace, Stage
from .module import Module, ModuleSet
from .ofa import ofa_mbv3, ofa_pn
from .protocol import SearchSpace
from .registry import register_space

__all__ = [
    "Feature", "FeatureCategory", "MacroSpace", "Module", "ModuleSet", "SearchSpace", "Stage", "get_space",
    "list_spaces", "load_space_file", "ofa_mbv3", "ofa_pn", "register_space", "space_from_dict",
]
