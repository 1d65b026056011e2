"""The Once-for-All spaces: MobileNetV3 and ProxylessNAS (paper Sec. 5.1, 7.2).

Arch format = the ``ofa`` package's ``set_active_subnet`` convention plus the input resolution:
``{"ks": [...], "e": [...], "d": [...], "r": 224}``. MBv3: 20 slots in 5 stages of 4. PN: 21 slots,
stages 1-5 of 4 slots and a 6th stage of exactly one layer (``d[5] = 1``), merged with stage 5 into
one 3-5 layer module for module enumeration (Sec. 7.2).
"""

from __future__ import annotations

from .feature import Feature
from .macro import MacroSpace, Stage

KERNEL = Feature("k", (3, 5, 7), key="ks")
EXPAND = Feature("e", (3, 4, 6), key="e")
RESOLUTION = Feature("r", (192, 208, 224), key="r", numeric=True)


def ofa_mbv3() -> MacroSpace:
    return MacroSpace(
        "ofa-mbv3",
        stages=[Stage(2, 4, name=f"stage{i + 1}") for i in range(5)],
        layer_features=[KERNEL, EXPAND],
        global_features=[RESOLUTION],
        constants=[Feature("block", ("mbv3",))],
        key_aliases={"image_size": "r"},
        description="OFA MobileNetV3 (w1.2): 5 stages x 2-4 MBConv layers, k in {3,5,7}, e in {3,4,6}, "
        "r in {192,208,224}",
    )


def ofa_pn() -> MacroSpace:
    return MacroSpace(
        "ofa-pn",
        stages=[Stage(2, 4, name=f"stage{i + 1}") for i in range(5)] + [Stage(1, 1, name="stage6")],
        layer_features=[KERNEL, EXPAND],
        global_features=[RESOLUTION],
        constants=[Feature("block", ("pn",))],
        module_groups=[[0], [1], [2], [3], [4, 5]],
        key_aliases={"image_size": "r"},
        description="OFA ProxylessNAS (w1.3): 5 stages x 2-4 MBConv layers + a 6th stage of one layer, "
        "k in {3,5,7}, e in {3,4,6}, r in {192,208,224}",
    )

