"""Node-feature categories of a macro search space (paper Sec. 4.3: the FE-MLP gives every
category its own scalar)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import AutobuildError


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Feature:
    """One node-feature category.

    ``name`` labels the category in reports (``k``, ``e``, ``r``...); ``key`` is the arch-dict key
    that stores it (``ks`` for kernel sizes in the OFA format); ``values`` lists the allowed values
    in order. ``numeric`` features feed their standardised value to the FE-MLP (so unseen
    magnitudes extrapolate), the others a learned embedding of their value index.
    """

    name: str
    values: tuple
    key: str = ""
    numeric: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or len(self.name) > 64:
            raise AutobuildError(f"feature name {self.name!r} must be an identifier")
        from .. import limits

        if not self.values:
            raise AutobuildError(f"feature {self.name!r} has no values")
        if len(self.values) > limits.MAX_FEATURE_VALUES:
            raise AutobuildError(f"feature {self.name!r} has {len(self.values):,} values (at most "
                                 f"{limits.MAX_FEATURE_VALUES:,})")
        for v in self.values:
            if not (_is_number(v) or isinstance(v, str)):
                raise AutobuildError(f"feature {self.name!r}: value {str(v)[:40]!r} must be a number or a string")
            if _is_number(v) and not abs(v) < 1e300:  # also NaN
                raise AutobuildError(f"feature {self.name!r}: value {str(v)[:40]} is not a finite number of sane size")
            if isinstance(v, str) and len(v) > 256:
                raise AutobuildError(f"feature {self.name!r}: value {v[:40]!r}... is longer than 256 characters")
        if len(set(self.values)) != len(self.values):
            raise AutobuildError(f"feature {self.name!r} has duplicate values {list(self.values)}")
        if self.numeric and not all(_is_number(v) for v in self.values):
            raise AutobuildError(f"numeric feature {self.name!r} must have numeric values")
        if not self.key:
            object.__setattr__(self, "key", self.name)
        # (type, value) -> index: encoding 3,000 archs looks values up some 200,000 times.
        object.__setattr__(self, "_lookup", {(type(v), v): i for i, v in enumerate(self.values)})

    @property
    def size(self) -> int:
        return len(self.values)

    def index(self, value: Any) -> int:
        """Index of ``value``; raises :class:`AutobuildError` naming the allowed values."""
        if isinstance(value, bool) or not (_is_number(value) or isinstance(value, str)):
            raise AutobuildError(f"{self.key}: {value!r} is not one of {list(self.values)}")
        i = self._lookup.get((type(value), value))
        if i is not None:
            return i
        raise AutobuildError(f"{self.key}: {value!r} is not one of {list(self.values)}")

    def numeric_scale(self) -> tuple[float, float]:
        """(mean, std) used to standardise a numeric feature before its FE-MLP."""
        import statistics

        vals = [float(v) for v in self.values]
        mu = statistics.fmean(vals)
        sd = statistics.pstdev(vals) if len(vals) > 1 else 1.0
        return mu, (sd or 1.0)

    def to_dict(self) -> dict:
        d: dict = {"name": self.name, "values": list(self.values)}
        if self.key != self.name:
            d["key"] = self.key
        if self.numeric:
            d["numeric"] = True
        return d
