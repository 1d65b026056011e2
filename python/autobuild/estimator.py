"""``Predictor``: a trained predictor users can hold, scikit-learn style.

    p = Predictor("ofa-mbv3", target="acc*100/latency_gpu", epochs=200).fit("builtin:ofa-mbv3")
    p.report["test"]["srcc_pred"]; p.predict(archs); p.save("runs/eff")
    q = Predictor.load("runs/eff")          # checks the manifest, the space, everything

``kind`` names an entry of the kind registry (:mod:`autobuild.models.kinds`: ``"autobuild"``, the
interpretable predictor of Eq. 4; ``"kgnn"``, the latency predictor of supp. Sec. 7.4); other
keyword arguments are that kind's hyper-parameters (``epochs``, ``lr``, ``hidden``, ``layers``,
``seed``, ...), checked when the predictor is made. What runs a model is explicit: ``runtime="onnx"``
(default: ONNX Runtime on ``provider``, the artifact production uses) or ``"torch"``; a model fitted
in this process is exported to ONNX on first use with ``runtime="onnx"``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import AutobuildError

class Predictor:
    """An architecture performance predictor: ``fit`` / ``predict`` / ``save`` / ``load``."""

    def __init__(self, space: Any, target: str = "acc", kind: str = "autobuild", runtime: str = "onnx",
                 provider: str = "cpu", **hyper: Any) -> None:
        from .data.equation import TargetEquation
        from .models.inference import RUNTIMES
        from .models.kinds import get_kind
        from .spaces import get_space

        self.space = get_space(space)
        self.target = target if isinstance(target, TargetEquation) else TargetEquation(target)
        self.kind = get_kind(kind).name
        if runtime not in RUNTIMES:
            raise AutobuildError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.runtime, self.provider = runtime, provider
        self.hyper = dict(hyper)
        if hyper:  # unknown or out-of-range hyper-parameters fail here, not after the data is read
            self._make_config()
        self._result: Any = None
        self._artifact: Any = None
        self._onnx: Any = None
        self._tmp: Any = None

    # ------------------------------------------------------------------ fitting
    def _make_config(self) -> Any:
        from .models.kinds import get_kind

        hyper = dict(self.hyper)
        if "layers" not in hyper and hasattr(self.space, "default_layers"):  # U-Net spaces: 6 hops
            hyper["layers"] = self.space.default_layers
        return get_kind(self.kind).make_config(
            hyper, lambda name, names: f"{self.kind!r} predictors have no hyper-parameter {name!r} "
                                            f"(they have: {', '.join(names)})")

    def fit(self, data: Any, y: Sequence[float] | None = None,
            progress: Callable[[int, float], None] | None = None) -> "Predictor":
        """Train on labelled data: a :class:`~autobuild.data.table.LabelledTable`, a CSV/JSONL path or
        ``builtin:NAME`` (labels from the target equation), or a list of arch dicts with ``y``."""
        from .data.table import LabelledTable, read_labelled
        from .models.kinds import get_kind

        if y is not None:
            archs = list(data)
            yy = np.asarray(y, dtype=np.float64)
            source = {"source": "python", "n": len(archs)}
        else:
            table = data
            if not isinstance(data, LabelledTable):
                from .data.builtin import resolve_data

                table = read_labelled(resolve_data(str(data)), validate=self.space.validate)
            archs = table.archs
            from .networks.ofa_counts import with_counts

            yy = self.target.evaluate(with_counts(self.space, archs, table.metrics, self.target.metrics))
            source = {"source": str(data if not isinstance(data, LabelledTable) else table.source), "n": len(table)}
        codes = self.space.encode(archs)
        cfg = self._make_config()
        self._result = get_kind(self.kind).load("train")(self.space, codes, yy, cfg, progress=progress)
        if y is None:  # labels read from a file: an `autobuild profile` output carries its noise ceiling
            from .networks.profile import attach_noise_ceiling

            attach_noise_ceiling(self._result.report, table.source, self.target)
        self._data_info = source
        self._artifact, self._onnx = None, None
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory (weights, ONNX export, config, manifest), atomically."""
        from .models.artifact import load_model, save_model

        if self._result is None:
            raise AutobuildError("nothing to save: fit() or load() the predictor first")
        save_model(path, self._result, self.space, self.target, self._data_info, overwrite=overwrite)
        self._artifact, self._onnx = load_model(path, space=self.space), None
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, runtime: str = "onnx", provider: str = "cpu") -> "Predictor":
        """A saved predictor (any kind), fully checked (:func:`~autobuild.models.artifact.load_model`)."""
        from .models.artifact import load_model

        art = load_model(path)
        p = cls(art.space, art.target, kind=art.kind, runtime=runtime, provider=provider)
        p.hyper = dict(art.config["hyperparameters"])
        p._artifact = art
        return p

    # ------------------------------------------------------------------ use
    @property
    def report(self) -> dict:
        """Held-out metrics per hop, moments, FE-MLP importance (``autobuild info`` shows them)."""
        if self._result is not None:
            return self._result.report
        if self._artifact is not None:
            return self._artifact.report
        raise AutobuildError("the predictor is not fitted: fit() or load() it first")

    @property
    def artifact(self) -> Any:
        """The saved model directory behind this predictor (for scoring and search evaluators)."""
        if self._artifact is None:
            raise AutobuildError("the predictor is not saved: save() it first")
        return self._artifact

    def _torch_model(self) -> Any:
        if self._result is not None:
            return self._result.model
        return self.artifact.torch_model()

    def _onnx_session(self) -> Any:
        from .models.inference import OnnxPredictor

        if self._onnx is None:
            if self._artifact is not None:
                path = self._artifact.onnx_path
            else:  # fitted here, not saved: export once into a private temporary directory
                from .models.onnx_export import export_onnx

                if self._result is None:
                    raise AutobuildError("the predictor is not fitted: fit() or load() it first")
                self._tmp = tempfile.TemporaryDirectory(prefix="autobuild-onnx-")
                path = Path(self._tmp.name) / "model.onnx"
                export_onnx(self._result.model, self.space, path)
            self._onnx = OnnxPredictor(path, provider=self.provider)
        return self._onnx

    def predict(self, archs: Sequence[dict], return_norms: bool = False, batch_size: int = 4096) -> Any:
        """Predictions in the target's units for arch dicts (validated); with ``return_norms`` also
        the graph-embedding L1 norm at every hop ``[n, M+1]``."""
        codes = self.space.encode(archs)
        if self.runtime == "onnx":
            pred, norms = self._onnx_session().predict(self.space, codes, batch_size=batch_size)
        else:
            from .models.fitting import run_model

            pred, norms, _, _ = run_model(self._torch_model(), self.space, codes, batch_size=batch_size)
        pred = np.asarray(pred, dtype=np.float64)
        return (pred, np.asarray(norms, dtype=np.float64)) if return_norms else pred

    def __repr__(self) -> str:
        state = "fitted" if self._result is not None else ("loaded" if self._artifact is not None else "unfitted")
        return f"Predictor({self.space.name!r}, target={str(self.target)!r}, kind={self.kind!r}, {state})"
