"""The registry of predictor kinds: for each, its model class, config class and training function.

A new kind is one module that defines them and one :func:`register_kind` line here (names are
``"module:attribute"`` strings, imported when first used, so reading the registry needs no torch).

Protocol a kind implements:

* ``config``: a dataclass of hyper-parameters with ``validate()``, ``seed``, ``threads``, ``epochs``,
  ``test_fraction``, ``hidden``, ``layers`` (stored as ``config.json["hyperparameters"]``);
* ``model``: a ``torch.nn.Module`` built as ``model(space.feature_categories, hidden=, layers=)``
  (and from a stored config by ``model.from_hyperparameters(categories, hyperparameters)``), with a
  ``kind`` attribute, ``forward(x, edge_index, batch, counts) -> (pred, node_norms,
  graph_norms)`` in label units and the buffers ``y_mean``, ``y_std``;
* ``train``: ``train(space, codes, y, config, progress=None) -> TrainResult`` (:mod:`.fitting`),
  whose report has ``test`` (``srcc_pred``, ``srcc_hop``, ``mae``, ``n``), ``hop_moments`` and
  ``label_moments``;
* ``summary``: ``summary(report) -> str``, the line ``autobuild train`` prints after training;
* ``describe``: ``describe(artifact) -> list[str]``, what ``autobuild info`` prints (a module that
  needs no torch: :mod:`.describe`);
* ``ensembles``: whether ``train --folds/--seeds`` may build ensembles of the kind (Sec. 5.3);
* ``ranks_hops``: whether its per-hop embedding norms are trained to rank (Eq. 4), so that held-out
  SRCC per hop is a quality the user must see and modules can be scored from them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import AutobuildError


@dataclass(frozen=True)
class Kind:
    name: str
    model: str  # "module:attribute" of the model class (relative to autobuild.models)
    config: str
    train: str
    summary: str
    describe: str
    description: str = ""
    ensembles: bool = False
    ranks_hops: bool = False

    def load(self, what: str) -> Any:
        mod, _, attr = getattr(self, what).partition(":")
        return getattr(importlib.import_module(f"autobuild.models.{mod}"), attr)

    def make_config(self, hyper: dict[str, Any], unknown: Callable[[str, list[str]], str]) -> Any:
        """The kind's config from ``hyper``, validated; a hyper-parameter the kind lacks is an error
        whose text ``unknown(name, known names)`` gives (the API names arguments, the CLI options)."""
        import dataclasses

        cls = self.load("config")
        names = sorted(f.name for f in dataclasses.fields(cls))
        for name in hyper:
            if name not in names:
                raise AutobuildError(unknown(name, names))
        cfg = cls(**hyper)
        cfg.validate()
        return cfg


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> None:
    KINDS[kind.name] = kind


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise AutobuildError(f"unknown model kind {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]


register_kind(Kind("autobuild", "gatv2_network:GATv2Network", "trainer:TrainConfig", "trainer:train_predictor",
                   "trainer:summary", "describe:describe_gatv2",
                   "the interpretable predictor: FE-MLP + GATv2, hop-level ranking loss (Eq. 4)",
                   ensembles=True, ranks_hops=True))
register_kind(Kind("kgnn", "kgnn:GraphConvNetwork", "kgnn:KGNNConfig", "kgnn:train_kgnn", "kgnn:summary", "describe:describe_graphconv",
                   "the k-GNN efficiency predictor (supp. Sec. 7.4): GraphConv, MAE + (1 - SRCC)"))
