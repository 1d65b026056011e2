"""The machinery behind :class:`autobuild.Predictor` (private to the package): the networks (the
FE-MLP of Sec. 4.3 with GATv2 message passing and per-hop graph embeddings, Eq. 2, in
:mod:`.gatv2_network`; the k-GNN latency network of supp. Sec. 7.4 in :mod:`.kgnn`), the hop-level
ranking loss (Eq. 4) and its training (:mod:`.training`, :mod:`.trainer`), model directories
(:mod:`.artifact`, :mod:`.ensemble`) and ONNX Runtime sessions (:mod:`.inference`).

Modules are imported by name (``from autobuild.models.kinds import get_kind``); nothing is loaded
by importing the package."""
