"""One training step of the predictor: the fused chain paths against the module-by-module path.

    python benchmarks/train_step.py [--space ofa-mbv3] [--reps 30] [--steps 20] [--json OUT]

The variants train the same model (same seed) on the same 128-arch batches of the embedded data
(target ``acc``, the paper's settings: 4 GATv2 hops of 32 channels with batch norm, Eq. 4 loss)
in one process, in alternating blocks of ``--steps`` steps, so that the VM's drift hits them
alike; each prints the median milliseconds per step over the blocks (the first three dropped)
and the ratio to the module path:

* modules: ``GATv2Conv`` (dense chain attention kernel) -> ``BatchNorm1d`` -> ``relu`` -> ``+``
  per hop through autograd, the loss composed of tensor ops (soft ranks, unit rows), and
  ``torch.optim.AdamW(fused=True)`` on the separate tensors (the training path of autobuild 0.5);
* encoder: all hops as one autograd node over the core's ``gat_chain_bn_forward`` / ``_backward``
  kernels (models/chain_encoder.py), the same composed loss, AdamW on one flat parameter buffer
  (models/flat_adamw.py);
* loss node: the whole loss and its gradient as one call of the core
  (:meth:`~autobuild.models.gatv2_network.GATv2Network.fused_loss`: ``core.chain_loss_grad``,
  the FE-MLP's table and VJP in NumPy) inside one autograd node, on a flat copy of the parameters;
* step (and the same with 2 torch threads, to choose the default of ``--threads``): what
  ``autobuild train`` runs - the same core call reading the parameters from and writing the
  gradient into the flat AdamW's buffers
  (:meth:`~autobuild.models.gatv2_network.GATv2Network.fused_loss_grad`), no autograd.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="ofa-mbv3")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from autobuild import core
    from autobuild.data.builtin import resolve_data
    from autobuild.data.table import read_labelled
    from autobuild.models import gatv2_network as P
    from autobuild.models.flat_adamw import FlatAdamW
    from autobuild.spaces import get_space

    sp = get_space(args.space)
    table = read_labelled(resolve_data(f"builtin:{args.space}"), validate=sp.validate)
    codes = sp.encode(table.archs)
    y = np.asarray(table.metrics["acc"], dtype=np.float64)
    ys = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)
    rng = np.random.default_rng(0)
    batches = [rng.permutation(len(codes))[:128] for _ in range(40)]
    graphs = [sp.graphs(codes[i]).torch() for i in batches]
    fusable = P.fusable

    def model() -> P.GATv2Network:
        torch.manual_seed(0)
        return P.GATv2Network(sp.feature_categories).train()

    from autobuild.models import softrank as sr

    def composed_hop_loss(norms: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:  # autobuild 0.5's ops
        r = sr.soft_rank(norms, 1.0).double()
        return (1.0 - (sr._unit_rows(r) * sr._unit_rows(yb.double())).sum(-1).to(norms.dtype)).mean()

    def loss_modules(m: P.GATv2Network, g: tuple, yb: torch.Tensor) -> torch.Tensor:
        pred, norms = m.forward_train(*g)
        return torch.nn.functional.mse_loss(pred, yb) + composed_hop_loss(norms, yb)

    m_step, m_step2, m_node, m_enc, m_mod = model(), model(), model(), model(), model()
    no_grad_fn = None
    step_fn = lambda m, g, yb, params, grad: m.fused_loss_grad(*g, yb, 1.0, params, grad)  # noqa: E731
    variants = {
        "modules": (m_mod, torch.optim.AdamW(m_mod.parameters(), lr=1e-3, weight_decay=1e-5, fused=True),
                    lambda *a: False, loss_modules, no_grad_fn),
        "encoder": (m_enc, FlatAdamW(m_enc, 1e-3, 1e-5), fusable, loss_modules, no_grad_fn),
        "loss node": (m_node, FlatAdamW(m_node, 1e-3, 1e-5), fusable, lambda m, g, yb: m.fused_loss(*g, yb, 1.0),
                      no_grad_fn),
        "step": (m_step, FlatAdamW(m_step, 1e-3, 1e-5), fusable, None, step_fn),
        "step, 2 threads": (m_step2, FlatAdamW(m_step2, 1e-3, 1e-5), fusable, None, step_fn),
    }

    def steps(name: str, k0: int) -> float:
        m, opt, fuse, loss_fn, grad_fn = variants[name]
        P.fusable = fuse
        torch.set_num_threads(2 if name.endswith("2 threads") else 1)
        t0 = time.perf_counter()
        for k in range(k0, k0 + args.steps):
            g, yb = graphs[k % 40], ys[batches[k % 40]]
            if grad_fn is not None:  # fitting.fit's path with a grad_fn
                opt.zero_grad()
                grad_fn(m, g, yb, opt.params, opt.grad)
            else:
                loss = loss_fn(m, g, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
        return (time.perf_counter() - t0) / args.steps * 1e3

    times: dict[str, list[float]] = {k: [] for k in variants}
    for rep in range(args.reps):
        for name in variants:
            times[name].append(steps(name, rep * args.steps))
    P.fusable = fusable
    torch.set_num_threads(1)
    med = {k: float(np.median(v[3:] if len(v) > 5 else v)) for k, v in times.items()}
    nodes = int(np.mean([g[0].shape[0] for g in graphs]))
    print(f"{args.space}: one training step on 128 archs (~{nodes} nodes), 1 thread unless said, core backend "
          f"{core.backend_name()}")
    print("| path | ms / step | ratio |\n|---|---|---|")
    labels = {"modules": "modules (autobuild 0.5)", "encoder": "fused chain encoder + flat AdamW, loss composed",
              "loss node": "loss and gradient in one core call, as an autograd node",
              "step": "the same core call on the optimiser's buffers (what `train` runs)",
              "step, 2 threads": "the same, `--threads 2`"}
    for k, label in labels.items():
        print(f"| {label} | {med[k]:.2f} | {med['modules'] / med[k]:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"space": args.space, "nodes": nodes, "ms_per_step": med,
                       "ratio": {k: med["modules"] / med[k] for k in med}, "blocks": times}, f, indent=1)


if __name__ == "__main__":
    main()
