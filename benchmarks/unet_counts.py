"""Exact parameters and FLOPs (64 x 64 latent) of every arch of the SD U-Net spaces, vectorised
(issue 15 sec. 1: all 786,432 archs of ``sdv14-unet`` in well under a second).

    python benchmarks/unet_counts.py

Prints the seconds to enumerate and to count every arch of both spaces, and the ranges.
"""

from __future__ import annotations

import time

from autobuild.networks.unet_counts import count_unet_codes
from autobuild.spaces import get_space


def main() -> None:
    for name in ("sdv14-unet", "sdv14-unet-hw"):
        sp = get_space(name)
        t = time.perf_counter()
        codes = sp.all_codes()
        t_enum = time.perf_counter() - t
        times = []
        for _ in range(3):  # the first run pays for the fresh arrays' page faults
            t = time.perf_counter()
            params, flops = count_unet_codes(sp, codes)
            times.append(time.perf_counter() - t)
        t_count = min(times)
        print(f"{name}: {len(codes):,} archs enumerated in {t_enum:.3f} s, counted in {t_count:.3f} s (first run "
              f"{times[0]:.3f} s) "
              f"({len(codes) / t_count:,.0f} archs/s); params {params.min():,}..{params.max():,}, "
              f"GFLOPs {flops.min() / 1e9:,.1f}..{flops.max() / 1e9:,.1f}")


if __name__ == "__main__":
    main()
