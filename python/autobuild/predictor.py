"""``Predictor``: the one object for a trained predictor, scikit-learn style.

    p = Predictor("ofa-mbv3", target="acc*100/latency_gpu", epochs=200).fit("builtin:ofa-mbv3")
    p.report["test"]["srcc_pred"]; p.predict(archs); scores = p.score(); p.save("runs/eff")
    e = Predictor("ofa-mbv3", target="acc").fit("builtin:ofa-mbv3", folds=5, seeds=4)   # an ensemble
    q = Predictor.load("runs/eff")          # a model or an ensemble directory, fully checked

A single model is an ensemble of one: ``fit(data, folds, seeds)`` trains ``folds x seeds`` members
(paper Sec. 5.3), ``predict`` is their mean, ``score`` weights them by their held-out SRCC per hop
(Eq. 5), ``report`` holds their mean metrics. ``kind`` names an entry of the kind registry
(:mod:`autobuild.models.kinds`: ``"autobuild"``, the interpretable predictor of Eq. 4; ``"kgnn"``,
the latency predictor of supp. Sec. 7.4); other keyword arguments are that kind's hyper-parameters,
checked when the predictor is made. What runs a model is explicit: ``runtime="onnx"`` (default: ONNX
Runtime on ``provider``, what production uses) or ``"torch"``; a model fitted in this process is
exported to ONNX on first use with ``runtime="onnx"``.

The CLI's ``train``, ``predict``, ``score``, ``info``, the ``onnx:`` evaluator of the search, ``build``'s
summary and ``report`` all go through this class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import AutobuildError
from .models.inference import RUNTIMES


def data_digest(codes: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of what a model is trained on (the arch codes and their labels)."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(codes, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()


def _check_callable(name: str, f: Any) -> None:
    if f is not None and not callable(f):
        raise AutobuildError(f"{name} must be a function or None, got {type(f).__name__}")


def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise AutobuildError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


class Predictor:
    """An architecture performance predictor: ``fit`` / ``predict`` / ``score`` / ``save`` / ``load``.

    Learned state (after ``fit`` or ``load``): ``members`` (one trained model each), ``report``,
    ``path`` (where it is saved, or None)."""

    def __init__(self, space: Any, target: Any = "acc", kind: str = "autobuild", runtime: str = "onnx",
                 provider: str = "cpu", **hyper: Any) -> None:
        from .data.equation import TargetEquation
        from .models.kinds import get_kind
        from .spaces import get_space

        self.space = get_space(space)
        if not isinstance(target, (str, TargetEquation)):
            raise AutobuildError(f"target must be an equation (a string), got {type(target).__name__}")
        self.target = target if isinstance(target, TargetEquation) else TargetEquation(target)
        self.kind = get_kind(kind).name
        if runtime not in RUNTIMES:
            raise AutobuildError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if not isinstance(provider, str):
            raise AutobuildError(f"provider must be a name such as 'cpu' or 'cuda', got {provider!r}")
        self.runtime, self.provider = runtime, provider
        self.hyper = dict(hyper)
        if hyper:  # unknown or out-of-range hyper-parameters fail here, not after the data is read
            self._make_config()
        self._members: list[Any] = []
        self._path: Path | None = None
        self._paths: list[Path] = []
        self._fitted_as: tuple | None = None
        self._manifest: tuple | None = None
        self._sessions: dict[int, Any] = {}

    # ------------------------------------------------------------------ hyper-parameters
    @staticmethod
    def hyperparameter_names(kind: str = "autobuild") -> list[str]:
        """The hyper-parameters a kind takes (its config's fields)."""
        import dataclasses

        from .models.kinds import get_kind

        return sorted(f.name for f in dataclasses.fields(get_kind(kind).load("config")))

    def _make_config(self, **extra: Any) -> Any:
        from .models.kinds import get_kind

        hyper = {**self.hyper, **extra}
        hyper.setdefault("layers", self.space.default_layers)
        return get_kind(self.kind).make_config(
            hyper, lambda name, names: f"{self.kind!r} predictors have no hyper-parameter {name!r} "
                                       f"(they have: {', '.join(names)})")

    def planned_epochs(self, n: int, folds: int = 1) -> int:
        """Epochs each member trains for on ``n`` labelled archs (``epochs=None``: sized to the data)."""
        import dataclasses

        from .models.fitting import planned_epochs

        cfg = self._make_config()
        return planned_epochs(cfg if folds == 1 else dataclasses.replace(cfg, folds=folds), n)

    # ------------------------------------------------------------------ fitting
    def read(self, data: Any) -> Any:
        """Labelled data of this predictor's space as a :class:`~autobuild.data.table.LabelledTable`
        (a CSV/JSONL path or ``builtin:NAME``; every arch validated, errors naming file and row)."""
        from .data.table import LabelledTable, read_encoded

        if isinstance(data, LabelledTable):
            return data
        if not isinstance(data, (str, Path)):
            raise AutobuildError(f"data must be a CSV/JSONL path, builtin:NAME or a LabelledTable "
                                 f"(or archs with y=...), got {type(data).__name__}")
        table, _ = read_encoded(data, self.space)
        return table

    def labels(self, table: Any) -> np.ndarray:
        """The target of every row of ``table``; ``macs`` / ``params`` (OFA) or ``flops`` / ``params``
        (U-Nets) are counted exactly when the data has no such columns."""
        from .networks.counts import with_counts

        try:
            return self.target.evaluate(with_counts(self.space, table.archs, table.metrics, self.target.metrics))
        except AutobuildError as e:
            raise AutobuildError(f"{table.name or table.source}: {e}") from None

    def check_fit(self, folds: int = 1, seeds: int = 1, out: str | Path | None = None, overwrite: bool = False,
                  reuse: bool = False) -> tuple[int, int]:
        """What ``fit`` checks before it reads any data (``folds``, ``seeds``, whether the kind makes
        ensembles, ``out``), so that a refused setting costs nothing; returns ``(folds, seeds)``."""
        from .models.kinds import KINDS, get_kind
        from .models.training import check_output

        folds = _check_int("folds", folds, 1)
        seeds = _check_int("seeds", seeds, 1)
        if out is not None and not isinstance(out, (str, Path)):
            raise AutobuildError(f"out must be a directory path, got {type(out).__name__}")
        if folds * seeds > 1 and not get_kind(self.kind).ensembles:
            raise AutobuildError(f"--folds/--seeds ensembles are not made of --kind {self.kind} predictors (kinds "
                                 f"with ensembles: {', '.join(k for k, v in KINDS.items() if v.ensembles)})")
        if not reuse:
            check_output(out, folds, seeds, overwrite)
        return folds, seeds

    def fit(self, data: Any, y: Sequence[float] | None = None, *, folds: int = 1, seeds: int = 1,
            out: str | Path | None = None, overwrite: bool = False, reuse: bool = False,
            progress: Callable[..., None] | None = None,
            on_member: Callable[[int, int, str, str], None] | None = None,
            on_start: Callable[[str], None] | None = None) -> "Predictor":
        """Train on labelled data: a CSV/JSONL path or ``builtin:NAME`` (labels from the target
        equation), a :class:`~autobuild.data.table.LabelledTable`, or a list of arch dicts with ``y``.

        ``folds x seeds`` members (Sec. 5.3; 1 x 1: one model). Nothing is written unless ``out``
        is given: then each member is saved as it finishes (an ensemble directory resumes: rerunning
        keeps finished members); an existing model is replaced only with ``overwrite``, or kept
        when ``reuse`` and it was trained with the same settings. ``progress(epoch, loss, val)``
        follows the epochs, ``on_member(i, n, name, "train"|"kept")`` the members,
        ``on_start(state)`` says whether an ensemble directory is ``new``, ``resume`` or ``replace``."""
        from .models.training import train_models

        folds, seeds = self.check_fit(folds, seeds, out, overwrite, reuse)
        for name, f in (("progress", progress), ("on_member", on_member), ("on_start", on_start)):
            _check_callable(name, f)
        if y is not None:
            if not isinstance(data, (list, tuple)):
                raise AutobuildError(f"with y=..., data must be a list of arch dicts, got {type(data).__name__}")
            archs = list(data)
            try:
                yy = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError):
                raise AutobuildError("y must be numbers, one per arch") from None
            if yy.shape != (len(archs),):
                raise AutobuildError(f"y must hold one number per arch ({len(archs)}), got shape {yy.shape}")
            codes = self.space.encode(archs)
            info: dict = {"source": "python", "n": len(archs)}
            annotate = None
        else:
            table = self.read(data)
            yy = self.labels(table)
            codes = table.codes if table.codes is not None else self.space.encode(table.archs)
            info = {"source": table.name or table.source, "n": len(table)}
            if table.source:  # recorded so that `predict` knows its own training data again
                info["path"] = str(Path(table.source).resolve())

            def annotate(report: dict) -> None:  # labels from `autobuild profile` carry their noise ceiling
                from .networks.profile import attach_noise_ceiling

                attach_noise_ceiling(report, table.source, self.target)
        info["sha256"] = data_digest(codes, yy)  # what the data is: a model of other data is never reused
        cfg = self._make_config()
        self._members = train_models(self.space, codes, yy, self.target, self.kind, cfg, info, folds=folds,
                                     seeds=seeds, out=out, overwrite=overwrite, reuse=reuse, progress=progress,
                                     on_member=on_member, on_start=on_start, annotate=annotate)
        self._path = Path(out) if out is not None else None
        self._paths = [self._path] if out is not None else []
        self._fitted_as = (cfg, folds, seeds, info)
        self._sessions = {}
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory (weights, ONNX export, config, manifest) or, for an ensemble,
        the ensemble directory, atomically; an existing one is replaced only with ``overwrite``."""
        from .models.artifact import save_model

        if not isinstance(path, (str, Path)):
            raise AutobuildError(f"save takes a directory path, got {type(path).__name__}")
        members = self.members
        for m in members:  # every weight in memory before a directory (perhaps its own) is replaced
            m.torch_model()
        if len(members) == 1:
            self._members = [save_model(path, members[0], overwrite=overwrite)]
        else:
            from .models.ensemble import ensemble_settings, member_name, start_ensemble_dir

            if self._fitted_as is not None:  # the directory `fit(out=...)` would have written
                cfg, folds, seeds, info = self._fitted_as
                settings = ensemble_settings(self.space, self.target, cfg, folds, seeds, info)
                names = [member_name(f, j) for f in range(folds) for j in range(seeds)]
            elif self._manifest is not None:  # loaded from one ensemble directory: its settings and names
                settings, names = self._manifest
            else:  # members gathered from several directories
                settings = {"space_fingerprint": self.space.fingerprint(), "target": str(self.target),
                            "members_of": [m.name for m in members]}
                names = [member_name(i, 0) for i in range(len(members))]
            out = Path(path)
            if not overwrite and out.exists() and (not out.is_dir() or any(out.iterdir())):
                raise AutobuildError(f"{out}: exists; pass overwrite=True to replace it")
            start_ensemble_dir(out, settings, names, overwrite)
            self._members = [save_model(out / n, m, overwrite=True) for n, m in zip(names, members)]
        self._path, self._paths, self._sessions = Path(path), [Path(path)], {}
        return Path(path)

    @classmethod
    def load(cls, path: str | Path | Sequence[str | Path], runtime: str = "onnx", provider: str = "cpu",
             space: Any = None) -> "Predictor":
        """A saved predictor: a model directory, an ensemble directory (``fit(folds=..., seeds=...)``
        or ``train --folds``), or several of either of one target (their members form one ensemble).
        Everything is checked: the manifest (SHA-256 of every file), the format, the space (``space``,
        when given, must be the model's)."""
        from .models.ensemble import load_models

        paths = [path] if isinstance(path, (str, Path)) else list(path) if isinstance(path, (list, tuple)) else None
        if not paths or not all(isinstance(p, (str, Path)) for p in paths):
            raise AutobuildError(f"Predictor.load takes a model directory or a list of them, got {path!r}")
        sp = None
        if space is not None:
            from .spaces import get_space

            sp = get_space(space)
        members = load_models(paths, space=sp)
        first = members[0]
        for m in members[1:]:
            if m.config["space_fingerprint"] != first.config["space_fingerprint"]:
                raise AutobuildError(f"{m.name}: trained on space {m.space.name!r}, not {first.space.name!r} "
                                     f"like {first.name}")
            if str(m.target) != str(first.target):
                raise AutobuildError(f"{m.name}: target {m.target} differs from {first.target} of {first.name}; "
                                     "load each target separately")
            if m.kind != first.kind:
                raise AutobuildError(f"{m.name}: a {m.kind!r} model beside {first.kind!r} {first.name}")
        p = cls(first.space, first.target, kind=first.kind, runtime=runtime, provider=provider)
        # What a refit would train: the members' settings, not one member's place in its ensemble.
        p.hyper = {k: v for k, v in first.config["hyperparameters"].items() if k not in ("fold", "folds", "split_seed")}
        p._members = members
        if len(paths) == 1:
            from .models.ensemble import ensemble_manifest, is_ensemble

            if is_ensemble(paths[0]):
                p._manifest = ensemble_manifest(paths[0])
        p._path = Path(paths[0]) if len(paths) == 1 else None
        p._paths = [Path(x) for x in paths]
        return p

    # ------------------------------------------------------------------ learned state
    @property
    def members(self) -> list[Any]:
        """The trained models (one for a single model), each with ``path``, ``config``, ``report``."""
        if not self._members:
            raise AutobuildError("the predictor is not fitted: fit() or load() it first")
        return self._members

    @property
    def fitted(self) -> bool:
        return bool(self._members)

    @property
    def path(self) -> Path | None:
        """The directory the predictor was loaded from or saved to (None: only in memory)."""
        return self._path

    @property
    def name(self) -> str:
        """How outputs name the predictor: its directory(ies) as given, or ``fitted model``."""
        if len(self._paths) > 1:
            return "+".join(str(p).rstrip("/") for p in self._paths)
        return str(self._path).rstrip("/") if self._path is not None else "fitted model"

    @property
    def label(self) -> str:
        """A short name for figures: the directory's last component (or ``fitted model``)."""
        return Path(self.name).name if self._path is not None else self.name

    @property
    def is_ensemble(self) -> bool:
        return len(self.members) > 1

    @property
    def report(self) -> dict:
        """Held-out metrics per hop, moments, FE-MLP importance (``autobuild info`` shows them); an
        ensemble's: the members' mean, ``*_std`` their spread."""
        from .models.ensemble import ensemble_report

        members = self.members
        return members[0].report if len(members) == 1 else ensemble_report(members)

    @property
    def data_info(self) -> dict:
        """What the predictor was trained on (``source``, ``n``, ``path`` where it was a file)."""
        return dict(self.members[0].config.get("data") or {})

    def trained_on(self, data: Any) -> bool:
        """Whether ``data`` (a path or ``builtin:NAME``) is the data the predictor was trained on."""
        from .data.builtin import resolve_data

        d = self.data_info
        try:
            here = Path(resolve_data(str(data))).resolve()
        except (OSError, AutobuildError):
            return False
        if d.get("path"):
            return Path(str(d["path"])) == here
        src = str(d.get("source", ""))  # older models: only a built-in set is known for sure
        return src.startswith("builtin:") and src == str(data)

    def quality_warning(self, purpose: str, name: str | None = None) -> str | None:
        """A warning line for every member that ranks poorly on its held-out archs (None: all fine);
        ``name``: how to call the predictor (default: each member's directory)."""
        from .models.quality import poor_model_warning

        n = len(self.members)
        lines = []
        for i, m in enumerate(self.members):
            own = m.name if m.path is not None else (f"member {i + 1}/{n}" if n > 1 else self.name)
            label = f"{name} ({own})" if name is not None else own if m.path is not None or n == 1 \
                else f"{self.name} {own}"
            w = poor_model_warning(label, m.report, purpose)
            if w:
                lines.append(w)
        return "\n".join(lines) or None

    def summary(self) -> str:
        """The line ``autobuild train`` prints: held-out quality in a few numbers."""
        from .models.kinds import get_kind

        if not self.is_ensemble:
            return get_kind(self.kind).load("summary")(self.report)
        t = self.report["test"]
        hops = " ".join(f"{v:.3f}" for v in t["srcc_hop"])
        return (f"{len(self.members)} members; mean test SRCC pred {t['srcc_pred']:.3f}, "
                f"hops 0..{len(t['srcc_hop']) - 1} [{hops}]")

    def describe(self) -> list[str]:
        """What ``autobuild info`` prints."""
        from .models.describe import describe_ensemble
        from .models.kinds import get_kind

        if self.is_ensemble:
            return describe_ensemble(self.name, self.members, self.report)
        return get_kind(self.kind).load("describe")(self.members[0])

    def to_json(self) -> dict:
        """What ``autobuild info --json`` prints."""
        if self.is_ensemble:
            return {"ensemble": self.name, "members": [m.path.name if m.path else f"member{i}"
                                                       for i, m in enumerate(self.members)],
                    "space": self.space.name, "target": str(self.target), "report": self.report}
        cfg = dict(self.members[0].config)
        cfg["report"] = {k: v for k, v in cfg["report"].items() if k not in ("split", "loss_history")}
        return cfg

    def require(self, capability: str, purpose: str) -> None:
        """One-line error unless this predictor's kind has ``capability`` (``ranks_hops``: module scoring)."""
        self.members[0].require(capability, purpose)

    # ------------------------------------------------------------------ use
    def _session(self, i: int) -> Any:
        from .models.inference import OnnxSession

        if i not in self._sessions:
            self._sessions[i] = OnnxSession(self.members[i].onnx_path, provider=self.provider)
        return self._sessions[i]

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers its sessions run on (after a fallback: CPU)."""
        return self._session(0).providers

    def run_feed(self, feed: dict) -> tuple[np.ndarray, np.ndarray]:
        """One batch of encoded graphs (``space.graphs(codes).onnx_feed()``) through every member:
        the mean prediction and mean graph norms per hop."""
        preds, norms = [], []
        for i, m in enumerate(self.members):
            if self.runtime == "onnx":
                p, _, gn = self._session(i).run(feed)
            else:
                import torch

                with torch.inference_mode():
                    out = m.torch_model()(*(torch.from_numpy(feed[k]) for k in ("x", "edge_index", "batch", "counts")))
                p, gn = out[0].numpy(), out[2].numpy()
            preds.append(np.asarray(p, dtype=np.float64))
            norms.append(np.asarray(gn, dtype=np.float64))
        if len(preds) == 1:
            return preds[0], norms[0]
        hops = min(n.shape[1] for n in norms)  # members of other depths: the hops they all have
        return np.mean(preds, axis=0), np.mean([n[:, :hops] for n in norms], axis=0)

    def predict_codes(self, codes: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (target units) and graph-embedding L1 norms per hop ``[n, M+1]`` of arch codes."""
        batch_size = _check_int("batch_size", batch_size, 1)
        preds, norms = [], []
        for i in range(0, len(codes), batch_size):
            p, n = self.run_feed(self.space.graphs(codes[i: i + batch_size]).onnx_feed())
            preds.append(p)
            norms.append(n)
        if not preds:
            return np.zeros(0), np.zeros((0, len(self.report["test"]["srcc_hop"])))
        return np.concatenate(preds), np.concatenate(norms)

    def predict(self, archs: Sequence[dict], return_norms: bool = False, batch_size: int = 4096) -> Any:
        """Predictions in the target's units for arch dicts (validated); with ``return_norms`` also
        the graph-embedding L1 norm at every hop ``[n, M+1]``. An ensemble predicts its members' mean."""
        if isinstance(archs, Mapping):
            raise AutobuildError("predict takes a list of arch dicts, got one dict (wrap it in a list)")
        if isinstance(archs, (str, bytes)) or not hasattr(archs, "__iter__"):
            raise AutobuildError(f"predict takes a list of arch dicts, got {type(archs).__name__}")
        self.members  # noqa: B018 - not fitted: one line before anything is validated
        pred, norms = self.predict_codes(self.space.encode(archs), batch_size)
        return (pred, norms) if return_norms else pred

    def __call__(self, archs: Sequence[dict]) -> dict[str, np.ndarray]:
        """As a search evaluator: ``{target: predictions}``."""
        return {str(self.target): self.predict(archs)}

    def score(self, globals: Mapping[str, Any] | None = None, min_count: int = 20, batch_size: int = 4096,
              name: str | None = None, progress: Callable[[int], None] | None = None) -> Any:
        """Every module of the space scored in the target's units (Eq. 5; an ensemble weights its
        members by their held-out SRCC per hop, Sec. 5.3): a :class:`~autobuild.scoring.ModuleScores`.
        ``globals``: the global feature values to score at (default: the FE-MLP's best)."""
        from .scoring import score_modules

        if globals is not None and not isinstance(globals, Mapping):
            raise AutobuildError(f"globals must map feature names to values, got {type(globals).__name__}")
        min_count = _check_int("min_count", min_count, 2)
        return score_modules(self.members, globals, min_count=min_count, provider=self.provider,
                             batch_size=_check_int("batch_size", batch_size, 1), name=name or self.name,
                             progress=progress, runtime=self.runtime)

    def __repr__(self) -> str:
        state = ("unfitted" if not self._members else
                 f"{len(self._members)} members" if len(self._members) > 1 else
                 f"saved at {self._path}" if self._path is not None else "fitted")
        return f"Predictor({self.space.name!r}, target={str(self.target)!r}, kind={self.kind!r}, {state})"
