"""Training of the AutoBuild predictor (paper Eq. 4, supp. 7.1) and the post-training statistics
that module scoring needs (Sec. 4.2 / 7.3: hop moments and per-(stage, depth) label moments)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from ..errors import AutobuildError
from ..metrics import spearman
from ..spaces.protocol import SearchSpace
from .fitting import (
    SIZED_EPOCHS,
    SIZED_STEPS,
    TrainResult,
    ValidationMonitor,
    adamw,
    fit,
    label_moments,
    run_model,
    sized_epochs,
    split_and_moments,
    split_indices,
    torch_threads,
    lr_schedule,
    steps_per_epoch,
    validate_common,
)
from .gatv2_network import NORMS, GATv2Network
from .softrank import pearson_of_ranks
from .softrank import spearman as soft_spearman


@dataclass
class TrainConfig:
    """Hyper-parameters. Architecture, batch and weight decay follow the paper's Sec. 7.1 (OFA
    spaces) and the authors' code (batch normalisation after each GATv2 layer). ``epochs=None``
    (the default) sizes the run to the data (:func:`~.fitting.sized_epochs`: 200 epochs on 2,700
    archs as in the paper, more on less data); an integer trains exactly that many. The rate is
    10x the paper's 1e-4 with a cosine decay to 0 (``schedule``): at 1e-4 the model is still
    learning after 200 epochs, at a constant 1e-3 it jitters at the end (README, *The predictor*).
    ``norm="none", lr=1e-4, schedule="constant", hop_loss="spearman"`` is the predictor without batch
    normalisation, at the paper's rate, with the rank-against-rank hop term."""

    epochs: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "cosine"  # "cosine" (decay to 0 over the run) or "constant"
    norm: str = "batch"  # after each GATv2 layer: "batch" or "none" (predictor.NORMS)
    weight_decay: float = 1e-5
    hidden: int = 32
    layers: int = 4
    test_fraction: float = 0.1
    seed: int = 0
    rank_weight: float = 1.0  # weight of the hop-level ranking term of Eq. 4
    rank_eps: float = 0.1  # soft-rank strength of hop_loss="spearman" (batch-standardised norms)
    hop_loss: str = "pearson"  # form of the hop-level ranking term (HOP_LOSSES)
    fe_grad_scale: float = 0.03  # gradient scale from the GNN hops into the FE-MLP (see predictor)
    threads: int = 1  # torch CPU threads while training (small graphs: 1 is fastest, see README)
    folds: int = 0  # >= 2: k-fold split, fold ``fold`` is the test set (ensembles, Sec. 5.3)
    fold: int = 0
    split_seed: int | None = None  # seed of the split permutation (default: ``seed``)

    def validate(self) -> None:
        validate_common(self)
        if self.hop_loss not in HOP_LOSSES:
            raise AutobuildError(f"hop_loss must be one of {', '.join(HOP_LOSSES)}, got {self.hop_loss!r}")
        if self.norm not in NORMS:
            raise AutobuildError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if not 0.0 <= self.fe_grad_scale <= 1.0:
            raise AutobuildError(f"fe_grad_scale must be in [0, 1], got {self.fe_grad_scale}")
        if self.folds == 1 or self.folds < 0:
            raise AutobuildError(f"folds must be 0 (random split) or >= 2, got {self.folds}")
        if self.folds >= 2 and not 0 <= self.fold < self.folds:
            raise AutobuildError(f"fold must be in 0..{self.folds - 1}, got {self.fold}")


#: Hop-level ranking terms of Eq. 4: ``"pearson"`` (default), the authors' form
#: (``ge_utils/diff_srcc.py``): ``1 -`` the Pearson correlation of the standardised label with the
#: soft rank of each hop's raw norm (strength 1); ``"spearman"``: ``1 -`` the soft
#: SRCC of the batch-standardised norms (strength ``rank_eps``) against the label's ranks.
HOP_LOSSES = ("pearson", "spearman")


def hop_loss(n: torch.Tensor, y: torch.Tensor, eps: float, form: str = "spearman") -> torch.Tensor:
    """Mean over hops of ``1 - corr(y, soft rank ||h_G^m||_1)`` (second term of Eq. 4) for graph
    norms ``n`` [H, B], differentiable; ``form`` one of :data:`HOP_LOSSES` (``eps`` is the strength
    of ``"spearman"``)."""
    if form == "pearson":
        return (1.0 - pearson_of_ranks(n, y)).mean()
    n = (n - n.mean(1, keepdim=True)) / (n.std(1, keepdim=True) + 1e-8)
    return (1.0 - soft_spearman(n, y, regularization_strength=eps)).mean()


def train_predictor(
    space: SearchSpace,
    codes: np.ndarray,
    y: np.ndarray,
    config: TrainConfig | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train an AutoBuild predictor on labelled arch codes with Eq. 4 and collect its statistics.

    ``progress(epoch, loss)`` is called after every epoch (the CLI draws a progress bar with it).
    """
    cfg = config or TrainConfig()
    cfg.validate()
    y = np.asarray(y, dtype=np.float64)
    if len(y) != len(codes):
        raise AutobuildError(f"{len(codes)} archs but {len(y)} labels")
    if not np.all(np.isfinite(y)):
        raise AutobuildError("labels contain NaN or infinite values")
    tr, te, mu, sd = split_and_moments(y, cfg, split_indices)
    rule = (f"given ({cfg.epochs})" if cfg.epochs is not None else
            f"sized to the data: {len(tr)} training archs, about {SIZED_STEPS} optimiser steps, "
            f"within {SIZED_EPOCHS[0]}..{SIZED_EPOCHS[1]} epochs")
    cfg = replace(cfg, epochs=cfg.epochs if cfg.epochs is not None else sized_epochs(len(tr), cfg.batch_size))
    with torch_threads(cfg.threads):
        result = _train(space, codes, y, cfg, tr, te, mu, sd, progress)
    result.report["epochs_rule"] = rule
    return result


def _train(space: SearchSpace, codes: np.ndarray, y: np.ndarray, cfg: TrainConfig, tr: np.ndarray, te: np.ndarray,
           mu: float, sd: float, progress: Callable[[int, float], None] | None) -> TrainResult:
    torch.manual_seed(cfg.seed)
    model = GATv2Network(
        space.feature_categories, hidden=cfg.hidden, layers=cfg.layers, fe_grad_scale=cfg.fe_grad_scale, norm=cfg.norm
    )
    model.y_mean.fill_(mu)
    model.y_std.fill_(sd)
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = lr_schedule(opt, cfg.schedule, steps_per_epoch(len(tr), cfg.batch_size) * cfg.epochs)
    ys = torch.from_numpy(((y - mu) / sd).astype(np.float32))

    fused = cfg.hop_loss == "pearson" or cfg.rank_weight == 0  # the forms the core's fused loss covers

    def grad_fn(m: GATv2Network, g: tuple, yb: torch.Tensor, params: torch.Tensor,
                grad: torch.Tensor) -> float | None:  # chains on the CPU: loss and gradient in one core call
        return m.fused_loss_grad(*g, yb, cfg.rank_weight, params, grad) if fused else None

    def loss_fn(m: GATv2Network, g: tuple, yb: torch.Tensor) -> torch.Tensor:  # Eq. 4
        pred, norms = m.forward_train(*g)
        mse = torch.nn.functional.mse_loss(pred, yb)
        if cfg.rank_weight == 0:  # the MSE-only predictors of the Exhaustive Search baseline (Sec. 5.3)
            return mse
        return mse + cfg.rank_weight * hop_loss(norms, yb, cfg.rank_eps, cfg.hop_loss)

    monitor = ValidationMonitor(model, space, codes, y, te, cfg.epochs)
    history, train_seconds = fit(model, space, codes, ys, tr, cfg.epochs, cfg.batch_size, cfg.seed, loss_fn, opt,
                                 sched, progress, monitor, grad_fn)
    report = evaluate(model, space, codes, y, tr, te)
    report.update(train_seconds=train_seconds, seconds_per_epoch=train_seconds / cfg.epochs, loss_history=history,
                  val_history=monitor.history)
    return TrainResult(model, cfg, report)


def evaluate(model: GATv2Network, space: SearchSpace, codes: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray) -> dict:
    """Test metrics (Fig. 2), hop moments over training nodes, label moments, FE-MLP importance."""
    p_te, g_te, _, _ = run_model(model, space, codes[te])
    _, _, n_tr, _ = run_model(model, space, codes[tr])
    hops = model.hops
    test = {
        "n": int(len(te)),
        "srcc_pred": spearman(p_te, y[te]),
        "srcc_hop": [spearman(g_te[:, m], y[te]) for m in range(hops)],
        "mae": float(np.mean(np.abs(p_te - y[te]))),
    }
    hop_moments = [{"hop": m, "mean": float(n_tr[:, m].mean()), "std": float(n_tr[:, m].std())} for m in range(hops)]
    cats = space.feature_categories
    imp = model.fe_mlp.importance()
    counts = value_counts(space, codes[tr])
    importance = {c.name: {"values": list(c.labels or c.values), "score": imp[c.name], "count": counts[j]}
                  for j, c in enumerate(cats)}
    return {
        "n_train": int(len(tr)),
        "label_mean": float(y[tr].mean()),
        "label_std": float(y[tr].std()),
        "label_range": [float(y[tr].min()), float(y[tr].max())],
        "test": test,
        "hop_moments": hop_moments,
        "label_moments": label_moments(space, codes[tr], y[tr]),
        "fe_importance": importance,
        "split": {"train": tr.tolist(), "test": te.tolist()},
    }


def value_counts(space: SearchSpace, codes: np.ndarray, batch_size: int = 4096) -> list[list[int]]:
    """Training nodes per value of every feature category (reports show only values the model saw:
    an op graph's ``op`` category has ~200 values, a model is trained on a dozen)."""
    cats = space.feature_categories
    total = [np.zeros(c.size, dtype=np.int64) for c in cats]
    for i in range(0, len(codes), batch_size):
        x = space.graphs(codes[i : i + batch_size]).x
        for j, c in enumerate(cats):
            total[j] += np.bincount(x[:, j], minlength=c.size)[: c.size]
    return [t.tolist() for t in total]


def summary(report: dict) -> str:
    """What ``autobuild train`` prints of a trained AutoBuild predictor."""
    t = report["test"]
    hops = " ".join(f"{v:.3f}" for v in t["srcc_hop"])
    return (f"test SRCC pred {t['srcc_pred']:.3f}, hops 0..{len(t['srcc_hop']) - 1} [{hops}], MAE {t['mae']:.4g}; "
            f"{report['seconds_per_epoch']:.3f} s/epoch")
