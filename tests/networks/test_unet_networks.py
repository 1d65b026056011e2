"""Real U-Nets of the SD spaces (issue 15 secs. 1-2): assembled from diffusers blocks, their exact
parameter and FLOP counts, the skip rule, the model folder that loads back."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild.cli import cli
from autobuild.networks.unet_counts import count_unet_arch, count_unet_codes
from autobuild.spaces import get_space

BASE = {"cm": 256, "mult": [1, 2, 3, 4], "res_in": [2, 2, 2, 2], "res_out": [3, 3, 3, 3],
        "attn_in": [0, 0, 1, 1], "attn_out": [0, 0, 1, 1]}
SMALL = {"cm": 128, "mult": [1, 2, 3, 2], "res_in": [1, 2, 1, 2], "res_out": [3, 2, 3, 2],
         "attn_in": [0, 0, 1, 0], "attn_out": [0, 0, 0, 1]}


def test_skip_rule():
    from autobuild.networks.unet_build import skip_plan

    # Output stages 4..1; stage s has res_in[s] + 1 skips.
    assert skip_plan([2, 2, 2, 2], [3, 3, 3, 3]) == [[True] * 3] * 4
    assert skip_plan([1, 2, 1, 2], [3, 2, 3, 2]) == [[True, True], [True, True, False], [True, True], [True, True, False]]


def test_vectorised_counts_of_the_whole_space():
    sp = get_space("sdv14-unet")
    codes = sp.all_codes()
    assert len(codes) == 786_432 and len(np.unique(codes, axis=0)) == 786_432
    t = time.perf_counter()
    params, flops = count_unet_codes(sp, codes)
    assert time.perf_counter() - t < 30  # "well under a second" is measured in benchmarks, not here
    archs = sp.decode(codes[:: 65_537])
    for a, p, f in zip(archs, params[:: 65_537], flops[:: 65_537]):
        assert (int(p), int(f)) == count_unet_arch(a)
    i = int(np.flatnonzero((codes == sp.encode([BASE])[0]).all(1))[0])
    assert int(params[i]) == count_unet_arch(BASE)[0]


@pytest.mark.heavy
@pytest.mark.parametrize("arch", [BASE, SMALL], ids=["inpainting_big", "small"])
def test_counts_equal_the_instantiated_unet(arch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from autobuild.networks.unet_build import build_unet

    sp = get_space("sdv14-unet")
    dev = "meta" if arch is BASE else "cpu"  # the 382 M-parameter net as shapes only: counts need no weights
    with torch.device(dev):
        net = build_unet(sp, arch)
    assert sum(p.numel() for p in net.parameters()) == count_unet_arch(arch)[0]
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), sdpa_kernel([SDPBackend.MATH]), fc:
        y = net(torch.randn(1, 7, 16, 16, device=dev), torch.tensor(10.0, device=dev))
    assert y.shape == (1, 3, 16, 16)
    assert fc.get_total_flops() == count_unet_arch(arch, hw=16)[1]
    if arch is BASE:  # the original inpainting_big: 382 M parameters
        assert count_unet_arch(arch)[0] == 381_987_587


@pytest.mark.heavy
def test_unet_command_saves_a_model_folder_that_loads_back(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from autobuild.networks.unet_build import build_unet, unet_class

    out = tmp_path / "unet"
    r = CliRunner()
    res = r.invoke(cli, ["unet", "--space", "sdv14-unet", "--arch", json.dumps(SMALL), "--seed", "3", "--out", str(out)],
                   catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"{count_unet_arch(SMALL)[0]:,} parameters" in res.output
    loaded = unet_class().from_pretrained(str(out)).eval()
    ref = build_unet(get_space("sdv14-unet"), SMALL, seed=3)
    x = torch.randn(1, 7, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, 5), ref(x, 5))
    res = r.invoke(cli, ["unet", "--arch", json.dumps(SMALL), "--out", str(out)])
    assert res.exit_code == 2 and "--overwrite" in res.output
    res = r.invoke(cli, ["unet", "--arch", json.dumps({**SMALL, "attn_in": [0, 1, 1, 0]}), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "stage 2" in res.output and not (tmp_path / "x").exists()


def test_flops_and_params_are_metrics_of_unet_targets():
    from autobuild.networks.counts import with_counts

    sp = get_space("sdv14-unet-hw")
    archs = sp.sample(5, seed=0)
    m = with_counts(sp, archs, {"q": np.zeros(5)}, ["q", "flops", "params"])
    assert [int(v) for v in m["flops"]] == [count_unet_arch(a)[1] for a in archs]
    assert [int(v) for v in m["params"]] == [count_unet_arch(a)[0] for a in archs]


@pytest.mark.heavy
def test_weight_inheritance_slices_as_ofa(tmp_path):
    """A child inherits the parent's leading channels; the halves of a concatenated input and
    every attention head are sliced separately; ONNX export of the child matches PyTorch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from autobuild.networks.unet_build import build_unet
    from autobuild.networks.unet_inherit import inherit

    sp = get_space("sdv14-unet")
    parent = {**SMALL, "cm": 192, "mult": [1, 2, 3, 4], "res_in": [2, 2, 2, 2], "res_out": [3, 3, 3, 3],
              "attn_in": [0, 0, 1, 1], "attn_out": [0, 0, 1, 1]}
    p_net, c_net = build_unet(sp, parent, seed=1), build_unet(sp, SMALL, seed=2)
    counts = inherit(c_net, p_net)
    assert counts["fresh"] == 0 and counts["part"] > 0
    pc, cc = p_net.state_dict(), c_net.state_dict()
    torch.testing.assert_close(cc["conv_in.weight"], pc["conv_in.weight"][:128])
    # Output stage 2's first block reads [running 384 ch, skip 256 ch] in the child, [576, 384] in the parent.
    name = "up_blocks.2.0.conv1.weight"
    (cur, skip), (pcur, _) = c_net.concat_inputs["up_blocks.2.0"], p_net.concat_inputs["up_blocks.2.0"]
    o = cc[name].shape[0]
    torch.testing.assert_close(cc[name][:, :cur], pc[name][:o, :cur])
    torch.testing.assert_close(cc[name][:, cur:cur + skip], pc[name][:o, pcur:pcur + skip])
    # Attention in input stage 3: 8 heads of 48 (child) from 8 heads of 72 (parent).
    q_c, q_p = cc["down_attns.2.0.to_q.weight"], pc["down_attns.2.0.to_q.weight"]
    for h in range(8):
        torch.testing.assert_close(q_c[h * 48:(h + 1) * 48], q_p[h * 72:h * 72 + 48, :384])
    # The child's ONNX export.
    from autobuild.networks.unet_build import export_unet_onnx

    assert export_unet_onnx(c_net, torch.randn(1, 7, 16, 16), tmp_path / "c.onnx") < 1e-3
    assert (tmp_path / "c.onnx").stat().st_size > 1_000_000


@pytest.mark.heavy
def test_profile_measures_unets(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    archs = tmp_path / "a.jsonl"
    archs.write_text(json.dumps({"arch": SMALL}) + "\n")
    out = tmp_path / "lat.csv"
    res = CliRunner().invoke(cli, ["profile", "--space", "sdv14-unet", "--archs", str(archs), "--latent", "8", "--runs",
                                   "3", "--warmup", "1", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "lat.csv.json").read_text())
    assert side["setup"]["latent"] == 8 and side["archs"] == 1 and not side["failures"]
    row = out.read_text().splitlines()[1]
    assert float(row.rsplit(",", 1)[1]) > 0
    res = CliRunner().invoke(cli, ["profile", "--space", "ofa-mbv3", "--archs", str(archs), "--latent", "8", "--out",
                                   str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "--latent" in res.output
