"""AdamW on one flat parameter buffer (models/flat_adamw.py) is torch's AdamW."""

from __future__ import annotations

import copy

import torch

from autobuild.models.flat_adamw import FlatAdamW, LRSchedule


def test_flat_adamw_is_adamw(tmp_path):
    """Same parameters as torch's AdamW after scheduled steps; its own storage back on release."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    b = copy.deepcopy(a)
    oa = FlatAdamW(a, 1e-2, 1e-3)
    ob = torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=1e-3, fused=True)
    sa, sb = LRSchedule(oa, lambda s: 0.9 ** s), torch.optim.lr_scheduler.LambdaLR(ob, lambda s: 0.9 ** s)
    for _ in range(10):
        x = torch.randn(16, 5)
        for m, o, s in ((a, oa, sa), (b, ob, sb)):
            o.zero_grad()
            m(x).pow(2).mean().backward()
            o.step()
            s.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)
    assert oa.steps == 10 and abs(oa.lr - ob.param_groups[0]["lr"]) < 1e-15
    oa.release()
    assert all(p.grad is None for p in a.parameters())
    assert len({p.untyped_storage().data_ptr() for p in a.parameters()}) == 4
    save_file(a.state_dict(), str(tmp_path / "m.safetensors"))  # refuses tensors that share memory
