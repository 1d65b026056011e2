"""AdamW over one contiguous buffer holding all of a module's parameters.

The predictors have a few dozen small parameter tensors (about 10k numbers in all). PyTorch's
AdamW spends most of a step on per-tensor bookkeeping in Python, about 0.4 ms, longer than the
arithmetic; so does ``zero_grad``. Here every parameter is a view into one flat tensor and its
gradient a view into one flat gradient (autograd accumulates into an existing ``.grad`` in place),
so that a step is one fused AdamW update of one tensor and zeroing the gradients one fill. The
update is elementwise, so the result is that of ``torch.optim.AdamW`` on the separate tensors
(``tests/test_flat_adamw.py``). :meth:`FlatAdamW.release` gives the parameters their own
storage back (saving needs tensors that share no memory).
"""

from __future__ import annotations

import torch


class FlatAdamW(torch.optim.AdamW):
    """``torch.optim.AdamW(module.parameters(), lr, weight_decay=...)`` on one flat buffer (the
    fused kernel where torch offers it); a ``torch.optim.Optimizer``, so schedulers take it."""

    def __init__(self, module: torch.nn.Module, lr: float, weight_decay: float) -> None:
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("FlatAdamW: the module has no trainable parameters")
        dev, dtype = params[0].device, params[0].dtype
        if any(p.device != dev or p.dtype != dtype for p in params):
            raise ValueError("FlatAdamW: parameters must share one device and dtype")
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
        flat.grad = grad
        self._module_params, self._flat = params, flat
        try:
            super().__init__([flat], lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError):  # pragma: no cover - builds without the fused kernel
            super().__init__([flat], lr=lr, weight_decay=weight_decay)

    def zero_grad(self, set_to_none: bool = True) -> None:  # noqa: ARG002 - the views must stay
        """Zero all gradients in one fill (they stay views of the flat gradient)."""
        self._flat.grad.zero_()

    def release(self) -> None:
        """Every parameter back in storage of its own, gradients dropped (training is over)."""
        with torch.no_grad():
            for p in self._module_params:
                p.data = p.data.clone()
                p.grad = None
