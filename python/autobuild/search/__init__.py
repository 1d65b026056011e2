"""Evolutionary multi-objective search (paper Sec. 5.1 "Enhancing NAS", 7.5): strategies, pluggable
evaluators, a durable SQLite journal and local / Ray executors."""

from .ea import SearchConfig, SearchResult, run_search
from .objectives import Objective, parse_objectives
from .strategies import STRATEGIES, make_strategy

__all__ = ["Objective", "STRATEGIES", "SearchConfig", "SearchResult", "make_strategy", "parse_objectives", "run_search"]
