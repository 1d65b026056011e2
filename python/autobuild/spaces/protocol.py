"""What scoring, construction and search need from a search space: the :class:`SearchSpace` protocol.

A space is anything with these attributes and methods; :class:`~autobuild.spaces.macro.MacroSpace`
(stages of layers: OFA MobileNetV3, ProxylessNAS, user YAML spaces) is one implementation. A new
space is one file implementing the protocol and one :func:`~autobuild.spaces.registry.register_space`
line. Every algorithm asks for the capabilities it uses (:func:`require`), so a space that cannot,
say, mutate, still trains, scores and builds, and ``search`` says why it cannot run on it.

Representations (see :mod:`autobuild.spaces.macro` for the chain case):

* arch dict - the user-facing JSON form, validated by ``encode``, produced by ``decode``;
* code - one ``int32`` row per arch, ``code_len`` wide; ``canonical_codes`` makes equal archs equal;
* graph - ``graphs(codes)`` batches them as node-feature indices (``feature_categories`` columns)
  and ``edge_index`` (any DAG) for the GNN;
* module - a subgraph of module group ``g`` (:mod:`autobuild.spaces.module`): ``depth`` nodes, the
  last of which sees the whole module at hop ``depth - 1`` (paper Sec. 4.2), and a choice row.

Protocol (capability ``"modules"``: scoring and construction; ``"mutate"``: the evolutionary search):

``name``, ``description``, ``fingerprint() -> str``, ``to_dict() -> dict``
    identity; a model, scores file or reduced space of one space refuses another. ``to_dict``
    is stored in models, reduced spaces and journals: a space that is not a ``MacroSpace`` puts
    its ``"type"`` in it and registers the inverse (:func:`~.registry.register_space_type`).
``code_len``, ``global_features``, ``encode(archs)``, ``decode(codes, pad)``, ``validate(arch)``,
``canonical_codes(codes)``, ``sample_codes(n, seed, unique)``, ``cardinality(include_globals)``
    archs and codes; errors are :class:`~autobuild.errors.AutobuildError` naming the field.
``feature_categories``, ``graphs(codes) -> GraphBatch``, ``to_graph(arch)``
    what the GNN sees.
``n_groups``, ``group_label(g)``, ``group_depths(g) -> (lo, hi)``, ``module_count(g)``, ``module_width``
    module groups: their labels in every output, depth range, number of modules, widest choice row.
``module_depths(codes, g) -> int[N]``
    the depth of each arch's group-``g`` module (training keeps label moments per (group, depth)
    cell for Eq. 5).
``enumerate_modules(g) -> ModuleSet``
    every module of group ``g`` (capability ``"modules"``).
``empty_codes(n, global_idx)``, ``place_modules(codes, g, depths, choices)``
    codes holding only the globals, then modules written into group ``g``: scoring places one module
    alone; construction places one module per group to assemble an arch.
``module_layers(g, module) -> list``, ``parse_module(g, layers) -> Module``,
``module_texts(g, depths, choices) -> list[str]``
    a module as JSON-able layers and back (scores CSV, reduced-space files); ``module_texts`` is
    the compact JSON of many modules' layers at once.
``compatible(modules: Sequence[ModuleSet], combos: int64[N, n_groups]) -> bool[N]``
    which combinations (row ``combos[i, g]`` of ``modules[g]``) satisfy the constraints between
    groups (a U-Net's input stage and its output twin share a multiplier); chains: all. An entry
    ``-1`` is a group not chosen yet: the answer is whether the chosen ones agree so far (what lets
    :func:`autobuild.build` prune a best-first walk); ``compatible_next(modules, prefix, j)`` is the
    same question for every module of group ``j`` after the chosen ``prefix`` (default: via
    ``compatible``).
``default_layers``, ``layer_features``, ``network_family``, ``group_depth_values(g)``,
``encode_one(arch)``, ``decode_one(code)``, ``sample(n, seed)``, ``all_codes()``, ``describe()``,
``describe_codes(codes, what)``, ``module_colour(color_by)``
    what the predictor, ``space``, summaries and figures use; :class:`~autobuild.spaces.base.SpaceBase`
    gives every one a default.
``mutation_layout() -> dict``
    (capability ``"mutate"``) the arrays :func:`autobuild.core.mutate` takes besides parents and
    restrictions: ``min_depth``, ``max_depth``, ``group_of``, ``n_globals``, ``slot_width``,
    ``n_choices``.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import AutobuildError
from .module import Module, ModuleSet

#: What a space can declare in ``capabilities``: ``"modules"`` (scoring and building),
#: ``"mutate"`` (the evolutionary search), ``"independent_groups"`` (every combination of modules
#: is an arch: :meth:`SearchSpace.compatible` is always true, so a product of module lists counts
#: exactly), ``"enumerable"`` (``all_codes``: exhaustive search), ``"counts"`` (exact MACs / FLOPs and
#: parameters, :func:`autobuild.count`) and ``"network"`` (the real network of an arch: ``export``,
#: ``profile``, ``unet``); the last two are implemented in :mod:`autobuild.networks` for the space's
#: ``network_family``.
CAPABILITIES = ("modules", "mutate", "independent_groups", "enumerable", "counts", "network")


@runtime_checkable
class SearchSpace(Protocol):
    """A search space as the algorithms see it; see the module docstring for the contract."""

    name: str
    description: str
    code_len: int
    global_features: tuple
    capabilities: frozenset[str]

    def fingerprint(self) -> str: ...
    def to_dict(self) -> dict: ...
    def cardinality(self, include_globals: bool = False) -> int: ...
    def encode(self, archs: Iterable[Any]) -> np.ndarray: ...
    def decode(self, codes: np.ndarray, pad: str = "repeat") -> list[dict]: ...
    def validate(self, arch: Any, pad: str = "repeat") -> dict: ...
    def canonical_codes(self, codes: np.ndarray) -> np.ndarray: ...
    def sample_codes(self, n: int, seed: int | None = 0, unique: bool = True) -> np.ndarray: ...
    @property
    def feature_categories(self) -> tuple: ...
    def graphs(self, codes: np.ndarray) -> Any: ...
    def to_graph(self, arch: Any) -> dict: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def module_width(self) -> int: ...
    def group_label(self, g: int) -> str: ...
    def group_depths(self, g: int) -> tuple[int, int]: ...
    def module_count(self, g: int) -> int: ...
    def module_depths(self, codes: np.ndarray, g: int) -> np.ndarray: ...
    def enumerate_modules(self, g: int) -> ModuleSet: ...
    def empty_codes(self, n: int, global_idx: Any = ()) -> np.ndarray: ...
    def place_modules(self, codes: np.ndarray, g: int, depths: np.ndarray, choices: np.ndarray) -> None: ...
    def module_layers(self, g: int, module: Module) -> list: ...
    def parse_module(self, g: int, layers: Any) -> Module: ...
    def module_texts(self, g: int, depths: np.ndarray, choices: np.ndarray) -> list[str]: ...
    def compatible(self, modules: Sequence[ModuleSet], combos: np.ndarray) -> np.ndarray: ...
    def compatible_next(self, modules: Sequence[ModuleSet], prefix: Sequence[int], j: int) -> np.ndarray: ...
    default_layers: int
    layer_features: tuple
    network_family: str | None
    def group_depth_values(self, g: int) -> list[int]: ...
    def encode_one(self, arch: Any) -> np.ndarray: ...
    def decode_one(self, code: np.ndarray, pad: str = "repeat") -> dict: ...
    def sample(self, n: int, seed: int | None = 0, unique: bool = True, pad: str = "repeat") -> list[dict]: ...
    def all_codes(self) -> np.ndarray: ...
    def describe(self) -> list[str]: ...
    def describe_codes(self, codes: np.ndarray, what: str) -> list[str]: ...
    def module_colour(self, color_by: str | None = None) -> tuple[int, list, str]: ...


def require(space: Any, capability: str, what: str) -> None:
    """Raise a one-line error when ``space`` lacks ``capability`` (one of :data:`CAPABILITIES`)."""
    if capability not in CAPABILITIES:
        raise AutobuildError(f"unknown space capability {capability!r}")
    if capability not in getattr(space, "capabilities", ()):
        can = {"modules": "enumerate modules", "enumerable": "list every arch", "counts": "count MACs and parameters",
               "network": "build real networks"}.get(capability, capability)
        raise AutobuildError(f"{what} needs a space that can {can}; space {getattr(space, 'name', '?')!r} cannot")


def module_total(space: Any) -> int:
    """Modules of every group of ``space``."""
    return sum(space.module_count(g) for g in range(space.n_groups))
