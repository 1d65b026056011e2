"""Model artifact: a directory with ``config.json`` (kind, space, target, hyper-parameters,
statistics, test metrics, versions), ``model.safetensors`` (weights), ``model.onnx`` and
``manifest.json`` (the SHA-256 of the three and its own seal, :mod:`autobuild.manifest`).

Two model kinds share the format, named by ``config["kind"]``: ``"autobuild"`` (the AutoBuild GNN
predictor, :mod:`.predictor`; also every config written before the field existed) and ``"kgnn"``
(the k-GNN latency predictor of supp. Sec. 7.4, :mod:`.kgnn`). Both have the same ONNX interface.

Loading checks everything: the manifest's seal and every file's SHA-256 (so an edited config is
refused like an edited weight file), format and version, the space definition and its fingerprint,
the target equation, tensor names and shapes. Any mismatch is one :class:`AutobuildError` line.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..data.equation import TargetEquation
from ..errors import AutobuildError
from ..io_utils import atomic_dir, check_output_dir, read_format_json
from ..manifest import owned_files, verify, write_manifest
from .kinds import KINDS, get_kind
from ..spaces import space_from_dict
from ..spaces.protocol import SearchSpace

FORMAT = "autobuild-predictor"
FORMAT_VERSION = 2  # 2: files hashed in manifest.json (config included)
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
CONFIG = "config.json"
DEFAULT_KIND = "autobuild"  # configs without a "kind" field predate the k-GNN


MODEL_FILES = (CONFIG, WEIGHTS, ONNX)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import torch

    out = {"autobuild": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "torch": torch.__version__}
    # Versions from the installed metadata, without the imports (torch-geometric and onnx take seconds:
    # training uses neither).
    for dist in ("torch_geometric", "onnx"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - hard requirements of the ml extra
            pass
    try:  # imported for the parity check anyway; its distribution name varies (onnxruntime-gpu...)
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


@dataclass
class ModelArtifact:
    """One trained model: a loaded (validated) model directory, or a model fitted in this process
    and not saved yet (``path`` None; its ONNX export is written to a private temporary directory
    on first use). :class:`autobuild.Predictor` holds one per ensemble member."""

    path: Path | None
    config: dict
    space: SearchSpace
    target: TargetEquation
    _torch: Any = field(default=None, repr=False)
    _tmp: Any = field(default=None, repr=False)

    @property
    def report(self) -> dict:
        return self.config["report"]

    @property
    def name(self) -> str:
        """How messages name the model: its directory, or ``fitted model`` before it is saved."""
        return str(self.path) if self.path is not None else "fitted model"

    @property
    def label(self) -> str:
        """A short name for figures: the directory's last component."""
        return self.path.name if self.path is not None else "fitted model"

    @property
    def onnx_path(self) -> Path:
        if self.path is not None:
            return self.path / ONNX
        if self._tmp is None:
            import tempfile

            from .onnx_export import export_onnx

            tmp = tempfile.TemporaryDirectory(prefix="autobuild-onnx-")
            export_onnx(self.torch_model(), self.space, Path(tmp.name) / ONNX)
            self._tmp = tmp
        return Path(self._tmp.name) / ONNX

    @property
    def kind(self) -> str:
        """``"autobuild"`` or ``"kgnn"`` (validated by :func:`load_model`)."""
        return str(self.config.get("kind", DEFAULT_KIND))

    @property
    def hops(self) -> int:
        return int(self.config["hyperparameters"]["layers"]) + 1

    def require(self, capability: str, purpose: str) -> None:
        """One-line error unless this model's kind has ``capability`` (a flag of
        :class:`~autobuild.models.kinds.Kind`, e.g. ``ranks_hops`` for module scoring)."""
        from .kinds import KINDS

        if not getattr(KINDS.get(self.kind), capability, False):
            able = [k for k, v in KINDS.items() if getattr(v, capability, False)]
            raise AutobuildError(f"{self.name}: is a {self.kind!r} model; {purpose} needs a model of kind "
                                 f"{' or '.join(repr(k) for k in able)}")

    def torch_model(self):  # noqa: ANN201
        """The PyTorch predictor with its weights (safetensors, no pickle)."""
        if self._torch is None:
            from safetensors.torch import load_file

            hp = self.config["hyperparameters"]
            try:
                cls = get_kind(self.kind).load("model")
                model = cls.from_hyperparameters(self.space.feature_categories, hp)
            except (KeyError, TypeError, ValueError) as e:
                raise AutobuildError(f"{self.path / CONFIG}: bad hyperparameters: {e}") from None
            try:
                state = load_file(str(self.path / WEIGHTS))
                model.load_state_dict(state, strict=True)
            except Exception as e:  # safetensors / shape errors
                raise AutobuildError(f"{self.path / WEIGHTS}: cannot load weights: {str(e).splitlines()[0]}") from None
            model.eval()
            self._torch = model
        return self._torch


def model_dir_files(path: str | Path) -> set[str] | None:
    """What autobuild wrote in a model directory (None: not a model directory). A directory of
    format 1 (no manifest) is recognised by its config, so ``--overwrite`` can replace it."""
    owned = owned_files(path)
    if owned is None:
        try:
            read_format_json(Path(path) / CONFIG, FORMAT, 1, "an autobuild predictor config")
        except AutobuildError:
            return None
        return set(MODEL_FILES)
    return owned


def model_or_ensemble_files(path: Path) -> set[str] | None:
    """What autobuild wrote in a model or an ensemble directory (None: neither)."""
    owned = model_dir_files(path)
    if owned is None:
        from .ensemble import ensemble_files

        owned = ensemble_files(path)
    return owned


def fitted_model(result: Any, space: SearchSpace, target: TargetEquation, data_info: dict) -> ModelArtifact:
    """A model trained in this process (a :class:`~.fitting.TrainResult`) as an unsaved artifact:
    the config :func:`save_model` writes, less the ONNX details and versions known on saving."""
    from dataclasses import asdict

    kind = str(getattr(result.model, "kind", DEFAULT_KIND))
    if kind not in KINDS:
        raise AutobuildError(f"unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    declared = getattr(result, "kind", kind)
    if declared != kind:
        raise AutobuildError(f"training result says kind {declared!r} but holds a {kind!r} model")
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "space": space.to_dict(),
        "space_fingerprint": space.fingerprint(),
        "target": target.to_dict(),
        "data": dict(data_info),
        "hyperparameters": asdict(result.config),
        "report": dict(result.report),
    }
    return ModelArtifact(None, config, space, target, _torch=result.model)


def save_model(path: str | Path, model: ModelArtifact, overwrite: bool = False) -> ModelArtifact:
    """Write a model (fitted or loaded) as a model directory, atomically; returns it loaded from there.

    An existing model directory is replaced only with ``overwrite``; any other existing non-empty
    directory is an error (nothing autobuild did not write is ever deleted)."""
    from safetensors.torch import save_file

    from .onnx_export import export_onnx

    path = Path(path)
    check_output_dir(path, overwrite, model_or_ensemble_files)  # a model may replace an ensemble of autobuild's
    torch_model = model.torch_model()  # in memory before the directory may be replaced
    with atomic_dir(path) as tmp:
        tmp = Path(tmp)
        state = {k: v.detach().contiguous() for k, v in torch_model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        onnx_info = export_onnx(torch_model, model.space, tmp / ONNX)
        config = {k: v for k, v in model.config.items() if k not in ("onnx", "versions")}
        config.update(onnx=onnx_info, versions=_versions())
        (tmp / CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
        write_manifest(tmp, list(MODEL_FILES), "model")
    saved = load_model(path, space=model.space)
    saved._torch = torch_model
    return saved


def load_model(path: str | Path, space: SearchSpace | None = None) -> ModelArtifact:
    """Load and validate a model directory; ``space`` (optional) must be the model's space."""
    p = Path(path)
    if not p.is_dir():
        raise AutobuildError(f"{p}: not a model directory")
    cfg_path = p / CONFIG
    if not cfg_path.is_file() and not (p / "manifest.json").is_file():
        raise AutobuildError(f"{p}: missing {CONFIG} (not an autobuild model directory)")
    verify(p, "model", MODEL_FILES)
    cfg = read_format_json(cfg_path, FORMAT, FORMAT_VERSION, "an autobuild predictor config")
    for key in ("space", "space_fingerprint", "target", "hyperparameters", "report"):
        if key not in cfg:
            raise AutobuildError(f"{cfg_path}: missing field {key!r}")
    kind = cfg.get("kind", DEFAULT_KIND)
    if kind not in KINDS:
        raise AutobuildError(f"{cfg_path}: unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    model_space = space_from_dict(cfg["space"], f"{cfg_path}: space")
    if model_space.fingerprint() != cfg["space_fingerprint"]:
        raise AutobuildError(f"{cfg_path}: space definition does not match its fingerprint (edited or corrupt)")
    if space is not None and space.fingerprint() != model_space.fingerprint():
        raise AutobuildError(f"{p}: model was trained on space {model_space.name!r}, not {space.name!r}")
    target = TargetEquation.from_dict(cfg["target"])
    return ModelArtifact(p, cfg, model_space, target)


def save_result(path: str | Path, result: Any, space: SearchSpace, target: TargetEquation, data_info: dict,
                overwrite: bool = False) -> Path:
    """A :class:`~.fitting.TrainResult` straight to a model directory (what :class:`autobuild.Predictor`
    does after training; for tests and benchmarks that train a network by hand)."""
    return save_model(path, fitted_model(result, space, target, data_info), overwrite=overwrite).path
