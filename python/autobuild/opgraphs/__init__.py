"""ONNX op graphs, the paper's "IR" format (Sec. 3.1, 5.1, Fig. 8): conversion of any ONNX model
(:mod:`.convert`), op-graph data files (:mod:`.dataset`), scoring of a model's rooted op subgraphs
(:mod:`.subgraphs`) and their drawing (:mod:`.draw`). The space is :mod:`autobuild.spaces.opgraph`."""

from .convert import FIELDS, op_graph
from .subgraphs import rooted_subgraph, top_subgraphs

__all__ = ["FIELDS", "op_graph", "rooted_subgraph", "top_subgraphs"]
