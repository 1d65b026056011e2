"""AdamW over one contiguous buffer holding all of a module's parameters.

The predictors have a few dozen small parameter tensors (about 10k numbers in all). PyTorch's
AdamW spends most of a step on per-tensor bookkeeping in Python, about 0.4 ms, longer than the
arithmetic; so does ``zero_grad``. Here every parameter is a view into one flat tensor and its
gradient a view into one flat gradient (autograd accumulates into an existing ``.grad`` in place),
so that a step is one fused AdamW update (``torch._fused_adamw_``, the kernel of
``torch.optim.AdamW(fused=True)``) of one tensor and zeroing the gradients one fill.

It is deliberately not a ``torch.optim.Optimizer``: the first call into ``torch.optim`` imports
``torch._dynamo`` (about 2 s, a third of a short training run's fixed cost) for its
``_disable_dynamo`` decorators. The update is elementwise, so the result is that of
``torch.optim.AdamW`` on the separate tensors (``tests/models/test_flat_adamw.py``).
:meth:`FlatAdamW.release` gives the parameters their own storage back (saving needs tensors
that share no memory).
"""

from __future__ import annotations

import math
from typing import Callable

import torch


class FlatAdamW:
    """``torch.optim.AdamW(module.parameters(), lr, weight_decay=...)`` on one flat buffer, with
    torch's defaults (betas 0.9 / 0.999, eps 1e-8); ``lr`` may be changed between steps
    (:class:`LRSchedule`)."""

    def __init__(self, module: torch.nn.Module, lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("FlatAdamW: the module has no trainable parameters")
        dev, dtype = params[0].device, params[0].dtype
        if any(p.device != dev or p.dtype != dtype for p in params):
            raise ValueError("FlatAdamW: parameters must share one device and dtype")
        if not lr > 0 or not weight_decay >= 0:
            raise ValueError(f"FlatAdamW: lr must be > 0 and weight decay >= 0, got {lr}, {weight_decay}")
        total = sum(p.numel() for p in params)
        flat = torch.empty(total, device=dev, dtype=dtype)
        grad = torch.zeros(total, device=dev, dtype=dtype)
        offset = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                flat[offset : offset + n].copy_(p.reshape(-1))
                p.data = flat[offset : offset + n].view_as(p)
                p.grad = grad[offset : offset + n].view_as(p)
                offset += n
        self._module_params, self._flat, self._grad = params, flat, grad
        self._exp_avg, self._exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        self._steps = torch.zeros((), dtype=torch.float32, device=dev)
        self.lr, self.weight_decay, self.betas, self.eps = float(lr), float(weight_decay), betas, float(eps)
        self._fused = hasattr(torch, "_fused_adamw_")

    @property
    def params(self) -> torch.Tensor:
        """The flat buffer every parameter is a view of (in ``module.parameters()`` order)."""
        return self._flat

    @property
    def grad(self) -> torch.Tensor:
        """The flat gradient every parameter's ``.grad`` is a view of (same layout as :attr:`params`);
        a loop may write a whole gradient into it and call :meth:`step`."""
        return self._grad

    @property
    def steps(self) -> int:
        """Updates taken so far."""
        return int(self._steps.item())

    def zero_grad(self, set_to_none: bool = True) -> None:  # noqa: ARG002 - the views must stay
        """Zero all gradients in one fill (they stay views of the flat gradient)."""
        self._grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW update of every parameter (decoupled weight decay, bias-corrected moments)."""
        self._steps += 1
        b1, b2 = self.betas
        if self._fused:
            torch._fused_adamw_([self._flat], [self._grad], [self._exp_avg], [self._exp_avg_sq], [], [self._steps],
                                amsgrad=False, lr=self.lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay,
                                eps=self.eps, maximize=False, grad_scale=None, found_inf=None)
            return
        t = float(self._steps.item())  # pragma: no cover - builds without the fused kernel
        self._flat.mul_(1.0 - self.lr * self.weight_decay)
        self._exp_avg.lerp_(self._grad, 1.0 - b1)
        self._exp_avg_sq.mul_(b2).addcmul_(self._grad, self._grad, value=1.0 - b2)
        denom = (self._exp_avg_sq.sqrt() / math.sqrt(1.0 - b2 ** t)).add_(self.eps)
        self._flat.addcdiv_(self._exp_avg, denom, value=-self.lr / (1.0 - b1 ** t))

    def release(self) -> None:
        """Every parameter back in storage of its own, gradients dropped (training is over)."""
        with torch.no_grad():
            for p in self._module_params:
                p.data = p.data.clone()
                p.grad = None


class LRSchedule:
    """``torch.optim.lr_scheduler.LambdaLR`` for :class:`FlatAdamW`: after the ``k``-th
    :meth:`step` the rate is ``base * factor(k)`` (``factor(0)`` from the start)."""

    def __init__(self, opt: FlatAdamW, factor: Callable[[int], float]) -> None:
        self.opt, self.factor, self.base, self.k = opt, factor, opt.lr, 0
        opt.lr = self.base * factor(0)

    def step(self) -> None:
        self.k += 1
        self.opt.lr = self.base * self.factor(self.k)
