"""autobuild: build neural architectures from interpretable knowledge (Mills et al., CVPR 2024)."""

from __future__ import annotations

from .errors import AutobuildError

__version__ = "0.2.0"
__all__ = ["AutobuildError", "__version__"]
