"""Is a trained predictor worth using? Checks that ``train``, ``score``, ``build`` and ``search``
run on a model's held-out metrics, so nobody builds from a model that ranks nothing without being
told (the module scores of Eq. 5 are only as good as the hop-level ranking behind them)."""

from __future__ import annotations

#: Held-out SRCC below which a model is called poor: its rankings are close to random.
LOW_SRCC = 0.5
#: Rise of the held-out SRCC over the last fifth of training that counts as "still rising".
RISING = 0.01


def weak_spots(report: dict) -> list[str]:
    """What ranks poorly in a model report, e.g. ``["prediction 0.12", "hop 0 0.31"]`` (empty: fine)."""
    t = report.get("test", {})
    out = []
    pred = t.get("srcc_pred", t.get("srcc"))
    if pred is not None and pred < LOW_SRCC:
        out.append(f"prediction {pred:.2f}")
    from .kinds import KINDS

    kind = KINDS.get(str(report.get("kind", "autobuild")))
    if kind is None or kind.ranks_hops:  # other kinds' per-layer norms are a diagnostic only
        for m, v in enumerate(t.get("srcc_hop") or []):
            if v < LOW_SRCC:
                out.append(f"hop {m} {v:.2f}")
    return out


def poor_model_warning(name: str, report: dict, purpose: str) -> str | None:
    """One warning line when a model ranks poorly on its held-out archs, else ``None``."""
    spots = weak_spots(report)
    if not spots:
        return None
    return (f"{name} ranks poorly on its held-out archs (SRCC {', '.join(spots[:4])}{', ...' if len(spots) > 4 else ''}"
            f" < {LOW_SRCC}): {purpose} from it is close to random. Train longer (--epochs), on more data, "
            "or check the target")


def still_rising(report: dict) -> str | None:
    """A note when the held-out SRCC was still rising at the last epoch (more epochs would help)."""
    hist = report.get("val_history") or []
    if len(hist) < 3:
        return None
    last_epoch, last = hist[-1]
    ref = next(((e, v) for e, v in hist if e >= 0.8 * last_epoch), None)
    if ref is None or ref[0] == last_epoch:
        ref = tuple(hist[-2])
    if last - ref[1] > RISING:
        return (f"the held-out SRCC was still rising when training stopped ({ref[1]:.3f} at epoch {int(ref[0])}, "
                f"{last:.3f} at epoch {int(last_epoch)}): more epochs (--epochs) would likely give a better model")
    return None
