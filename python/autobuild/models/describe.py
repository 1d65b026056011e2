"""What ``autobuild info`` prints of a model of each kind (lines of text; no torch needed).

Each kind names its function in the registry (``Kind.describe``, :mod:`.kinds`)."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def seen_importance(d: dict) -> list[tuple]:
    """``(value, score[, std])`` of the values a model saw in training (all when counts are absent)."""
    cols = [d["values"], d["score"]] + ([d["score_std"]] if "score_std" in d else [])
    rows = list(zip(*cols))
    counts = d.get("count")
    return rows if counts is None else [r for r, c in zip(rows, counts) if c > 0]


def _header(art: Any, what: str = "") -> list[str]:
    cfg, rep = art.config, art.config["report"]
    return [f"model: {art.name}{what}",
            f"space: {art.space.name} (fingerprint {cfg['space_fingerprint']})   target: {art.target}",
            f"data: {cfg['data'].get('source')} ({cfg['data'].get('n')} archs; {rep['n_train']} train / "
            f"{rep['test']['n']} test)"]


def describe_gatv2(art: Any) -> list[str]:
    """An AutoBuild predictor: hop-level SRCC (Fig. 2), moments (Sec. 4.2, Table 2), FE-MLP importance."""
    cfg, rep = art.config, art.config["report"]
    t, hp = rep["test"], cfg["hyperparameters"]
    out = _header(art)
    out.append(f"training: {hp['epochs']} epochs, batch {hp['batch_size']}, lr {hp['lr']} "
               f"({hp.get('schedule', 'constant')}), seed {hp['seed']}; "
               f"{rep['train_seconds']:.1f} s ({rep['seconds_per_epoch']:.3f} s/epoch)")
    out.append(f"predictor: {hp['layers']} GATv2 hops x {hp['hidden']}, norm {hp.get('norm', 'none')}, "
               f"hop loss {hp.get('hop_loss', 'spearman')}, FE-MLP gradient scale {hp.get('fe_grad_scale', 0.03)}")
    if rep.get("epochs_rule"):
        out.append(f"epochs: {rep['epochs_rule']}")
    out += ["", "test metrics (SRCC of graph-embedding L1 norm per hop, Fig. 2):",
            "  " + "  ".join(f"h{m}={v:.3f}" for m, v in enumerate(t["srcc_hop"]))
            + f"  pred={t['srcc_pred']:.3f}  MAE={t['mae']:.4g}",
            "", "hop moments N(mu_m, sigma_m) of node-embedding norms (Sec. 4.2):",
            "  " + "  ".join(f"m={h['hop']}: N({h['mean']:.3f}, {h['std']:.3f})" for h in rep["hop_moments"]),
            "", "label moments N(mu_ul, sigma_ul) per (stage u, depth l) (Table 2):"]
    for lm in rep["label_moments"]:
        u = art.space.group_label(int(lm["group"]))
        stat = "n/a" if lm["mean"] is None else f"N({_fmt(lm['mean'])}, {_fmt(lm['std']) if lm['std'] is not None else 'n/a'})"
        out.append(f"  u={u:<4} l={lm['depth']}: {stat}  (n={lm['n']})")
    out += ["", "FE-MLP importance |f_c(v)| per feature value (Sec. 4.3; higher = more of the target):"]
    for name, d in rep["fe_importance"].items():
        pairs = sorted(seen_importance(d), key=lambda p: -p[1])
        out.append(f"  {name:<6} " + "  ".join(f"{v}: {s:.3f}" for v, s in pairs))
    return out


def describe_graphconv(art: Any) -> list[str]:
    """A k-GNN efficiency predictor: MAE, MAPE, SRCC and the +-10 % share per split."""
    cfg, rep = art.config, art.config["report"]
    t, hp = rep["test"], cfg["hyperparameters"]
    out = _header(art, " (k-GNN efficiency predictor, supp. Sec. 7.4)")
    out.append(f"training: {hp['epochs']} epochs, batch {hp['batch_size']}, lr {hp['lr']} "
               f"({hp.get('schedule', 'constant')}), weight decay {hp['weight_decay']}, seed {hp['seed']}; "
               f"{rep['train_seconds']:.1f} s ({rep['seconds_per_epoch']:.3f} s/epoch)")
    for split in ("test", "train"):
        m = rep.get(split)
        if m and "mae" in m and "mape" in m:
            out.append(f"{split:>5}: MAE {m['mae']:.4g}  MAPE {m['mape']:.2f} %  SRCC {m['srcc']:.3f}  "
                       f"within +-10 % {m['within10']:.1f} %" + (f"  (n={m['n']})" if "n" in m else ""))
    b = rep.get("baselines", {}).get("linear_macs")
    if b:
        out.append(f"baseline, linear fit on MACs (test): MAE {b['mae']:.4g}  MAPE {b['mape']:.2f} %  SRCC {b['srcc']:.3f}  "
                   f"within +-10 % {b['within10']:.1f} %")
    nc = rep.get("noise_ceiling")
    if nc:
        out.append(f"noise ceiling: the profile's two passes agree with SRCC {nc['srcc']:.3f} on {nc['statistic']} "
                   f"({nc['n']} archs, {nc['source']}): no predictor of these labels can rank better")
    if t.get("srcc_hop"):
        out.append("SRCC of the per-layer graph L1 norm (diagnostic): "
                   + "  ".join(f"h{i}={v:.3f}" for i, v in enumerate(t["srcc_hop"])))
    return out


def describe_ensemble(name: str, members: list, report: dict) -> list[str]:
    """An ensemble (Sec. 5.3): mean +- std of the members' held-out metrics, each member, the mean
    FE-MLP importance."""
    t, first = report["test"], members[0]
    out = [f"ensemble: {name} ({len(members)} members)   space: {first.space.name}   target: {first.target}",
           "", "held-out test metrics, mean +- std over members (each member holds out its own fold):",
           "  " + "  ".join(f"h{m}={v:.3f}+-{s:.3f}" for m, (v, s) in enumerate(zip(t["srcc_hop"], t["srcc_hop_std"])))
           + f"  pred={t['srcc_pred']:.3f}+-{t['srcc_pred_std']:.3f}  MAE={t['mae']:.4g}", "", "members:"]
    for i, m in enumerate(members):
        mt = m.report["test"]
        label = m.path.name if m.path is not None else f"member{i}"
        out.append(f"  {label:<14} pred={mt['srcc_pred']:.3f}  hops [" + " ".join(f"{v:.3f}" for v in mt["srcc_hop"])
                   + f"]  MAE={mt['mae']:.4g}  (n={mt['n']})")
    if report["fe_importance"]:
        out += ["", "FE-MLP importance |f_c(v)|, mean +- std over members (Sec. 4.3):"]
        for feat, d in report["fe_importance"].items():
            pairs = sorted(seen_importance(d), key=lambda p: -p[1])
            out.append(f"  {feat:<6} " + "  ".join(f"{v}: {s:.3f}+-{e:.3f}" for v, s, e in pairs))
    return out
