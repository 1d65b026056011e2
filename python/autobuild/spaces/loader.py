"""Look up built-in spaces by name and read user-defined spaces from YAML or JSON files.

A space file (YAML or JSON) looks like::

    name: my-space
    depth_key: d                      # optional, default "d"
    layer_features:                   # per-layer features, stored as flat slot lists
      - {name: k, key: ks, values: [3, 5, 7]}
      - {name: e, values: [3, 4, 6]}
    global_features:                  # optional, one value per arch
      - {name: r, values: [192, 224], numeric: true}
    constants:                        # optional single-valued node features
      - {name: block, value: mbconv}
    stages:                           # in network order
      - {min_depth: 1, max_depth: 3}
      - {min_depth: 2, max_depth: 4, choices: [[3, 3], [5, 6]]}   # restrict B_u
    module_groups: [[1], [2]]          # optional, 1-based stage numbers
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AutobuildError
from .registry import SPACES, builtin_space
from .feature import Feature
from .macro import MacroSpace, Stage

_TOP_KEYS = {"name", "description", "depth_key", "layer_features", "global_features", "constants", "stages", "module_groups"}


def list_spaces() -> list[str]:
    return sorted(SPACES)


def _feature(d: Any, where: str) -> Feature:
    if not isinstance(d, dict):
        raise AutobuildError(f"{where}: must be a mapping with name and values")
    unknown = set(d) - {"name", "key", "values", "numeric"}
    if unknown:
        raise AutobuildError(f"{where}: unknown field(s) {sorted(unknown)}")
    if "name" not in d or "values" not in d or not isinstance(d["values"], list):
        raise AutobuildError(f"{where}: needs 'name' and a list 'values'")
    return Feature(str(d["name"]), tuple(d["values"]), key=str(d.get("key", "")), numeric=bool(d.get("numeric", False)))


def space_from_dict(d: Any, source: str = "space") -> Any:
    """Build a space from the dict its ``to_dict`` wrote (models, reduced spaces and journals store
    it): a :class:`MacroSpace` (see module docstring) unless ``type`` names another space type of
    :mod:`~autobuild.spaces.registry`."""
    kind = d.get("type", "macro") if isinstance(d, dict) else "macro"
    if kind != "macro":
        from .registry import space_type

        return space_type(str(kind), source)(d, source)
    return _macro_from_dict(d, source)


def _macro_from_dict(d: Any, source: str) -> MacroSpace:
    try:
        if not isinstance(d, dict):
            raise AutobuildError("a space definition must be a mapping")
        d = {k: v for k, v in d.items() if k != "type"}
        unknown = set(d) - _TOP_KEYS
        if unknown:
            raise AutobuildError(f"unknown field(s) {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
        for k in ("name", "layer_features", "stages"):
            if k not in d:
                raise AutobuildError(f"missing field {k!r}")
        for k in ("layer_features", "global_features", "constants"):
            if d.get(k) is not None and not isinstance(d[k], list):
                raise AutobuildError(f"{k!r} must be a list")
        lf = [_feature(f, f"layer_features[{i}]") for i, f in enumerate(d["layer_features"] or [])]
        gf = [_feature(f, f"global_features[{i}]") for i, f in enumerate(d.get("global_features") or [])]
        consts = []
        for i, c in enumerate(d.get("constants") or []):
            if not isinstance(c, dict) or set(c) != {"name", "value"}:
                raise AutobuildError(f"constants[{i}]: needs exactly 'name' and 'value'")
            consts.append(Feature(str(c["name"]), (c["value"],)))
        stages = []
        if not isinstance(d["stages"], list):
            raise AutobuildError("'stages' must be a list")
        for i, s in enumerate(d["stages"]):
            if not isinstance(s, dict) or not {"min_depth", "max_depth"} <= set(s) or set(s) - {"min_depth", "max_depth", "choices", "name"}:
                raise AutobuildError(f"stages[{i}]: needs min_depth, max_depth and optionally choices, name")
            ch = s.get("choices")
            if ch is not None and not isinstance(ch, list):
                raise AutobuildError(f"stages[{i}]: choices must be a list of layer choices")
            stages.append(Stage(s["min_depth"], s["max_depth"], tuple(tuple(c) if isinstance(c, list) else c for c in ch) if ch is not None else None, str(s.get("name", ""))))
        groups = d.get("module_groups")
        if groups is not None:
            try:
                groups = [[int(i) - 1 for i in g] for g in groups]
            except (TypeError, ValueError):
                raise AutobuildError("module_groups must be a list of lists of 1-based stage numbers") from None
        return MacroSpace(
            str(d["name"]), stages, lf, gf, consts, depth_key=str(d.get("depth_key", "d")),
            module_groups=groups, description=str(d.get("description", "")),
        )
    except AutobuildError as e:
        raise AutobuildError(f"{source}: {e}") from None


def load_space_file(path: str | Path) -> MacroSpace:
    """Read a YAML/JSON space file (bounded size, no YAML aliases, bounded nesting)."""
    from .. import limits
    from ..safe_input import load_yaml, parse_json, read_text

    p = Path(path)
    if not p.exists():
        raise AutobuildError(f"{p}: space file not found")
    text = read_text(p, "space file", limits.MAX_SPACE_FILE_BYTES)
    data = parse_json(text, str(p)) if p.suffix.lower() == ".json" else load_yaml(text, str(p))
    return space_from_dict(data, str(p))


def get_space(name_or_path: Any) -> Any:
    """A built-in space by name (:mod:`~autobuild.spaces.registry`: ``ofa-mbv3``, ``ofa-pn``, aliases
    ``mbv3``, ``pn``), a space file, or a space object (returned as is)."""
    if not isinstance(name_or_path, (str, Path)):
        missing = [m for m in ("name", "encode", "decode", "graphs", "fingerprint", "to_dict", "feature_categories")
                   if not hasattr(name_or_path, m)]
        if missing:
            raise AutobuildError(f"space must be a name, a .yaml/.json space file or a search space object, got "
                                 f"{type(name_or_path).__name__} (it has no {missing[0]!r})")
        return name_or_path
    space = builtin_space(str(name_or_path))
    if space is not None:
        return space
    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml", ".json") or p.is_file():
        return load_space_file(p)
    raise AutobuildError(f"unknown space {name_or_path!r} (built-in: {', '.join(list_spaces())}; or a .yaml/.json space file)")
