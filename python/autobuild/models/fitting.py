"""Pieces shared by every predictor kind's training loop (:mod:`.kinds`): the result record, the
seeded split, label and hop statistics, CPU threads, AdamW, the epoch loop and validation monitor."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import AutobuildError


@dataclass
class TrainResult:
    model: Any  # the kind's torch module (see .kinds)
    config: Any  # the kind's config dataclass
    report: dict = field(default_factory=dict)
    kind: str = "autobuild"  # model kind written to config.json (artifact.KINDS)


def split_indices(n: int, test_fraction: float, seed: int, folds: int = 0, fold: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train / test split (90 / 10 by default, Sec. 5.1), or fold ``fold`` of a
    seeded k-fold partition as the test set when ``folds >= 2``."""
    perm = np.random.default_rng(seed).permutation(n)
    if folds >= 2:
        if n < 2 * folds:
            raise AutobuildError(f"need at least {2 * folds} labelled archs for {folds} folds, got {n}")
        chunks = np.array_split(perm, folds)
        test = chunks[fold]
        return np.sort(np.concatenate([c for i, c in enumerate(chunks) if i != fold])), np.sort(test)
    n_test = max(1, int(round(n * test_fraction)))
    if n - n_test < 2:
        raise AutobuildError(f"need at least {n_test + 2} labelled archs, got {n}")
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


#: Optimiser steps a run sized to its data aims for: the paper's setting (Sec. 7.1), 200 epochs of
#: 128-arch batches over 2,700 training archs, is 4,200 steps.
SIZED_STEPS = 4200
#: Epoch range of a run sized to its data: the paper's 200 epochs on its OFA data sets, and its
#: 1,000 full-batch epochs on the 68 labelled U-Nets (Sec. 5.3), at the two ends.
SIZED_EPOCHS = (200, 1000)


def sized_epochs(n_train: int, batch_size: int) -> int:
    """Epochs for ``n_train`` training archs: as many as make :data:`SIZED_STEPS` optimiser steps,
    within :data:`SIZED_EPOCHS` (800 labelled archs: 700 epochs, where the paper's fixed 200 left a
    model that barely ranked)."""
    batches = max(1, -(-n_train // batch_size))
    return int(min(max(-(-SIZED_STEPS // batches), SIZED_EPOCHS[0]), SIZED_EPOCHS[1]))


def planned_epochs(cfg: Any, n: int) -> int:
    """The epochs a run of ``cfg`` on ``n`` labelled archs trains: ``cfg.epochs`` when given, else
    :func:`sized_epochs` of its training split."""
    if cfg.epochs is not None:
        return int(cfg.epochs)
    return sized_epochs(len(config_split(cfg, n)[0]), cfg.batch_size)


def config_split(cfg: Any, n: int, split_fn: Any = split_indices) -> tuple[np.ndarray, np.ndarray]:
    """Train / test indices of ``n`` archs under ``cfg`` (seeded by ``cfg.split_seed`` or ``cfg.seed``;
    k-fold when ``cfg.folds >= 2``)."""
    split_seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    return split_fn(n, cfg.test_fraction, split_seed, getattr(cfg, "folds", 0), getattr(cfg, "fold", 0))


@torch.no_grad()
def run_model(model: torch.nn.Module, space: Any, codes: np.ndarray, batch_size: int = 4096):
    """Prediction (label units), graph norms ``[B, M+1]`` and node norms with their graph ids."""
    model.eval()
    preds, gnorms, nnorms, owners = [], [], [], []
    for i in range(0, len(codes), batch_size):
        g = space.graphs(codes[i : i + batch_size])
        p, nn_, gn = model(*g.torch())
        preds.append(p.numpy())
        gnorms.append(gn.numpy())
        nnorms.append(nn_.numpy())
        owners.append(g.batch + i)
    return np.concatenate(preds), np.concatenate(gnorms), np.concatenate(nnorms), np.concatenate(owners)


def label_moments(space: Any, codes: np.ndarray, y: np.ndarray) -> list[dict]:
    """``N(mu^y_{u,l}, sigma^y_{u,l})``: label moments of the archs whose module at group ``u`` has
    ``l`` layers (Table 2, supp. 7.3). Module groups equal stages except merged ones (PN 5+6)."""
    out = []
    for gi in range(space.n_groups):
        depth = space.module_depths(codes, gi)
        for l in space.group_depth_values(gi):  # U-Nets: ranges with gaps
            sel = y[depth == l]
            out.append({
                "group": gi, "stage": space.group_label(gi), "depth": l, "n": int(len(sel)),
                "mean": float(sel.mean()) if len(sel) else None,
                "std": float(sel.std(ddof=1)) if len(sel) > 1 else None,
            })
    return out


def split_and_moments(y: np.ndarray, cfg: Any, split_fn: Any) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Train / test indices (seeded, ``cfg.split_seed`` or ``cfg.seed``) and the train-split label
    mean and std used to standardise the targets (Sec. 7.1)."""
    tr, te = config_split(cfg, len(y), split_fn)
    mu, sd = float(y[tr].mean()), float(y[tr].std())
    if not sd > 0:
        raise AutobuildError("all training labels are equal: nothing to learn")
    return tr, te, mu, sd


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch CPU threads inside the block (0: leave torch's default)."""
    prev = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> Any:
    """AdamW on one flat buffer of all parameters (:class:`~.flat_adamw.FlatAdamW`: one fused
    update per step); :func:`fit` gives the parameters their own storage back when it ends."""
    from .flat_adamw import FlatAdamW

    return FlatAdamW(model, lr, weight_decay)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps of one epoch of :func:`fit` (a last batch of one arch is skipped)."""
    return sum(1 for i in range(0, n_train, batch_size) if n_train - i >= 2)


def lr_schedule(opt: Any, schedule: str, total_steps: int) -> Any:
    """``"cosine"``: the rate decays from its value to 0 over ``total_steps`` optimiser steps (one
    half cosine), so that the last epochs settle instead of jittering at the rate's scale;
    ``"constant"``: None (no scheduler). ``opt`` is a :class:`~.flat_adamw.FlatAdamW`."""
    import math

    from .flat_adamw import LRSchedule

    if schedule == "constant":
        return None
    total = max(1, int(total_steps))
    return LRSchedule(opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total)))


SCHEDULES = ("cosine", "constant")


def fit(model: torch.nn.Module, space: Any, codes: np.ndarray, ys: torch.Tensor, tr: np.ndarray, epochs: int,
        batch_size: int, seed: int, loss_fn: Any, opt: Any, sched: Any = None,
        progress: Any = None, monitor: Any = None, grad_fn: Any = None) -> tuple[list[float], float]:
    """Mini-batch training over the train indices ``tr`` (reshuffled every epoch with ``seed + 1``).

    ``loss_fn(model, graph_tensors, y_batch)`` gives the batch loss (autograd takes its gradient);
    with ``grad_fn`` and an optimiser on flat buffers (:class:`~.flat_adamw.FlatAdamW`), a batch
    first tries ``grad_fn(model, graph_tensors, y_batch, params, grad)``, which writes the whole
    gradient into ``grad`` and returns the loss as a float, or None to fall back to ``loss_fn``
    (the same loss, without autograd: :meth:`~.predictor.GATv2Network.fused_loss_grad`).
    ``progress(epoch, mean_loss)``
    after every epoch (with ``val=`` the monitor's latest held-out SRCC when it takes that
    argument); ``monitor(epoch)`` before it (a :class:`ValidationMonitor`; it only reads the
    model, so training is the same with or without it). Returns the per-epoch mean losses and
    the seconds spent (monitoring included)."""
    import time

    rng = np.random.default_rng(seed + 1)
    report = _progress_reporter(progress)
    t0 = time.perf_counter()
    history: list[float] = []
    try:
        if getattr(opt, "grad", None) is None:  # grad_fn needs the optimiser's flat buffers
            grad_fn = None
        _epochs(model, space, codes, ys, tr, epochs, batch_size, rng, loss_fn, grad_fn, opt, sched, report, monitor,
                history)
    finally:
        release = getattr(opt, "release", None)
        if release is not None:
            release()
    return history, time.perf_counter() - t0


def _epochs(model: torch.nn.Module, space: Any, codes: np.ndarray, ys: torch.Tensor, tr: np.ndarray, epochs: int,
            batch_size: int, rng: np.random.Generator, loss_fn: Any, grad_fn: Any, opt: Any, sched: Any,
            report: Any, monitor: Any, history: list[float]) -> None:
    for epoch in range(epochs):
        model.train()
        order = tr[rng.permutation(len(tr))]
        total, nb = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            if len(idx) < 2:
                continue
            graphs, yb = space.graphs(codes[idx]).torch(), ys[idx]
            loss = None
            if grad_fn is not None:
                opt.zero_grad()  # grad_fn writes every parameter's gradient; a stale one must not survive
                loss = grad_fn(model, graphs, yb, opt.params, opt.grad)
            if loss is None:
                loss = loss_fn(model, graphs, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                loss = loss.item()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss
            nb += 1
        history.append(total / max(nb, 1))
        if monitor is not None:
            monitor(epoch + 1)
        if report:
            val = monitor.history[-1][1] if monitor is not None and getattr(monitor, "history", None) else None
            report(epoch + 1, history[-1], val)


def _progress_reporter(progress: Any) -> Any:
    """``progress(epoch, loss)``, or ``progress(epoch, loss, val=...)`` with the latest held-out
    SRCC of the monitor (None before its first point) when the callback takes a ``val`` argument."""
    if progress is None:
        return None
    import inspect

    try:
        takes_val = "val" in inspect.signature(progress).parameters
    except (TypeError, ValueError):
        takes_val = False
    if takes_val:
        return lambda e, loss, val: progress(e, loss, val=val)
    return lambda e, loss, val: progress(e, loss)


def validate_common(cfg: Any) -> None:
    """Checks every training config shares (one-line :class:`AutobuildError`)."""
    if cfg.epochs is not None and cfg.epochs < 1:
        raise AutobuildError(f"epochs must be >= 1, got {cfg.epochs}")
    if cfg.batch_size < 2:
        raise AutobuildError(f"batch size must be >= 2, got {cfg.batch_size}")
    if not 0.0 < cfg.test_fraction < 1.0:
        raise AutobuildError(f"test fraction must be in (0, 1), got {cfg.test_fraction}")
    if not cfg.lr > 0 or cfg.hidden < 1 or cfg.layers < 1:
        raise AutobuildError("lr, hidden and layers must be positive")
    if not cfg.weight_decay >= 0:
        raise AutobuildError(f"weight decay must be >= 0, got {cfg.weight_decay}")
    if cfg.threads < 0:
        raise AutobuildError(f"threads must be >= 0 (0 = torch default), got {cfg.threads}")
    if getattr(cfg, "schedule", "constant") not in SCHEDULES:
        raise AutobuildError(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")


class ValidationMonitor:
    """Held-out prediction SRCC at about ``points`` epochs of a run (always the last), so that a
    report can say whether the model still improved when training stopped. With ``keep_best`` it
    also keeps the weights of the best point (SRCC, ties: lower MAE): :meth:`restore` puts them
    back (early stopping without stopping, on a validation split)."""

    def __init__(self, model: torch.nn.Module, space: Any, codes: np.ndarray, y: np.ndarray, te: np.ndarray,
                 epochs: int, points: int = 20, keep_best: bool = False) -> None:
        self.model, self.space, self.codes, self.y, self.te = model, space, codes[te], y[te], te
        self.epochs, self.every = epochs, max(1, epochs // points)
        self.history: list[list[float]] = []
        self.keep_best = keep_best
        self.best: tuple[float, float] = (-2.0, 0.0)
        self.best_epoch, self.state = 0, None

    def __call__(self, epoch: int) -> None:
        if epoch % self.every and epoch != self.epochs:
            return
        from ..metrics import spearman

        pred = run_model(self.model, self.space, self.codes)[0]
        srcc = spearman(pred, self.y)
        self.history.append([epoch, round(srcc, 6)])
        if self.keep_best:
            key = (srcc, -float(np.mean(np.abs(pred - self.y))))
            if key > self.best:
                self.best, self.best_epoch = key, epoch
                self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self) -> None:
        """The best point's weights (``keep_best``), if any point was taken."""
        if self.state is not None:
            self.model.load_state_dict(self.state)
