// pybind11 bindings of the C++ core: module autobuild._core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "core.hpp"

namespace py = pybind11;
using autobuild::GraphTensors;
using autobuild::ModuleTable;

namespace {

template <typename T>
py::array_t<T> to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t step = sizeof(T);
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape[i];
  }
  return py::array_t<T>(shape, strides, heap->data(), owner);
}

using I32 = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

py::tuple enumerate_modules(int32_t min_depth, int32_t max_depth, int32_t n_choices) {
  ModuleTable t;
  {
    py::gil_scoped_release release;
    t = autobuild::enumerate_modules(min_depth, max_depth, n_choices);
  }
  const py::ssize_t rows = t.rows;
  return py::make_tuple(to_array(std::move(t.depths), {rows}), to_array(std::move(t.choices), {rows, t.width}));
}

py::tuple encode_batch(I32 codes, I32 max_depth, I32 n_choices, I32 choice_features, int32_t n_globals) {
  if (codes.ndim() != 2) throw std::invalid_argument("encode_batch: codes must be 2-D");
  if (max_depth.ndim() != 1 || n_choices.ndim() != 1 || n_choices.shape(0) != max_depth.shape(0))
    throw std::invalid_argument("encode_batch: max_depth and n_choices must be 1-D of equal length");
  if (choice_features.ndim() != 3 || choice_features.shape(0) != max_depth.shape(0))
    throw std::invalid_argument("encode_batch: choice_features must be [stages, choices, features]");
  const auto S = static_cast<int32_t>(max_depth.shape(0));
  for (int32_t s = 0; s < S; ++s)
    if (n_choices.data()[s] > choice_features.shape(1))
      throw std::invalid_argument("encode_batch: n_choices exceeds choice_features");
  GraphTensors g;
  {
    py::gil_scoped_release release;
    g = autobuild::encode_batch(codes.data(), codes.shape(0), codes.shape(1), max_depth.data(), n_choices.data(), S,
                                choice_features.data(), static_cast<int32_t>(choice_features.shape(1)),
                                static_cast<int32_t>(choice_features.shape(2)), n_globals);
  }
  const py::ssize_t n_archs = codes.shape(0);
  return py::make_tuple(to_array(std::move(g.x), {g.nodes, g.n_features}),
                        to_array(std::move(g.edge_index), {2, g.edges}), to_array(std::move(g.batch), {g.nodes}),
                        to_array(std::move(g.ptr), {n_archs + 1}));
}

using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

py::array_t<double> calibrate_scores(F64 norms, I32 hops, I32 cells, F64 hop_mean, F64 hop_std, F64 cell_mean,
                                     F64 cell_std) {
  const py::ssize_t n = norms.size();
  if (norms.ndim() != 1 || hops.ndim() != 1 || cells.ndim() != 1 || hops.size() != n || cells.size() != n)
    throw std::invalid_argument("calibrate_scores: norms, hops and cells must be 1-D of equal length");
  if (hop_mean.ndim() != 1 || hop_std.ndim() != 1 || hop_mean.size() != hop_std.size())
    throw std::invalid_argument("calibrate_scores: hop_mean and hop_std must be 1-D of equal length");
  if (cell_mean.ndim() != 1 || cell_std.ndim() != 1 || cell_mean.size() != cell_std.size())
    throw std::invalid_argument("calibrate_scores: cell_mean and cell_std must be 1-D of equal length");
  std::vector<double> out(static_cast<size_t>(n));
  {
    py::gil_scoped_release release;
    autobuild::calibrate_scores(norms.data(), hops.data(), cells.data(), n, hop_mean.data(), hop_std.data(),
                                static_cast<int32_t>(hop_mean.size()), cell_mean.data(), cell_std.data(),
                                static_cast<int32_t>(cell_mean.size()), out.data());
  }
  return to_array(std::move(out), {n});
}

py::array_t<uint64_t> hash_codes(I32 codes) {
  if (codes.ndim() != 2) throw std::invalid_argument("hash_codes: codes must be 2-D");
  const py::ssize_t n = codes.shape(0);
  std::vector<uint64_t> out(static_cast<size_t>(n));
  {
    py::gil_scoped_release release;
    autobuild::hash_codes(codes.data(), n, codes.shape(1), out.data());
  }
  return to_array(std::move(out), {n});
}

py::array_t<int32_t> non_dominated_rank(F64 points) {
  if (points.ndim() != 2) throw std::invalid_argument("non_dominated_rank: points must be 2-D");
  const py::ssize_t n = points.shape(0);
  std::vector<int32_t> out(static_cast<size_t>(n));
  {
    py::gil_scoped_release release;
    autobuild::non_dominated_rank(points.data(), n, points.shape(1), out.data());
  }
  return to_array(std::move(out), {n});
}

double hypervolume_2d(F64 points, F64 ref) {
  if (points.ndim() != 2 || points.shape(1) != 2) throw std::invalid_argument("hypervolume_2d: points must be [N, 2]");
  if (ref.ndim() != 1 || ref.shape(0) != 2) throw std::invalid_argument("hypervolume_2d: ref must have 2 entries");
  py::gil_scoped_release release;
  return autobuild::hypervolume_2d(points.data(), points.shape(0), ref.data());
}

using U8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

uint64_t seed_value(const py::object& seed) {
  const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(seed.ptr()));
  if (!index) throw py::error_already_set();
  const unsigned long long v = PyLong_AsUnsignedLongLong(index.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw std::invalid_argument("mutate: seed must be in [0, 2^64)");
  }
  return static_cast<uint64_t>(v);
}

py::array_t<int32_t> mutate(I32 parents, int64_t n_children, const py::object& seed, int32_t kind, I32 min_depth,
                            I32 max_depth, U8 allowed, I32 group_of, int32_t n_globals, U8 global_allowed,
                            std::optional<I64> table_offsets, std::optional<I32> table_depths,
                            std::optional<I32> table_choices, std::optional<I32> slot_width) {
  if (kind < 0 || kind > 2)
    throw std::invalid_argument("mutate: kind must be 0 (stage-full), 1 (stage-table) or 2 (layer)");
  if (n_children < 0) throw std::invalid_argument("mutate: n_children must be >= 0");
  const uint64_t seed_u = seed_value(seed);
  if (parents.ndim() != 2) throw std::invalid_argument("mutate: parents must be 2-D");
  if (min_depth.ndim() != 1 || max_depth.ndim() != 1 || min_depth.shape(0) != max_depth.shape(0))
    throw std::invalid_argument("mutate: min_depth and max_depth must be 1-D of equal length");
  const py::ssize_t S = min_depth.shape(0);
  if (allowed.ndim() != 2 || allowed.shape(0) != S)
    throw std::invalid_argument("mutate: allowed must be [stages, choices]");
  if (group_of.ndim() != 1 || group_of.shape(0) != S)
    throw std::invalid_argument("mutate: group_of must have one entry per stage");
  if (global_allowed.ndim() != 2 || global_allowed.shape(0) != n_globals)
    throw std::invalid_argument("mutate: global_allowed must be [n_globals, values]");
  if (slot_width && (slot_width->ndim() != 1 || slot_width->shape(0) != S))
    throw std::invalid_argument("mutate: slot_width must have one entry per stage");
  if (kind == autobuild::kStageTable) {
    if (!table_offsets || !table_depths || !table_choices)
      throw std::invalid_argument("mutate: kind 1 (stage-table) needs table_offsets, table_depths and table_choices");
    if (table_offsets->ndim() != 1 || table_depths->ndim() != 1 || table_choices->ndim() != 2 ||
        table_choices->shape(0) != table_depths->shape(0))
      throw std::invalid_argument("mutate: table_offsets and table_depths must be 1-D, table_choices [rows, width]");
  }
  autobuild::MutationSpace sp;
  sp.n_stages = static_cast<int32_t>(S);
  sp.min_depth = min_depth.data();
  sp.max_depth = max_depth.data();
  sp.slot_width = slot_width ? slot_width->data() : max_depth.data();
  sp.allowed = allowed.data();
  sp.n_choices = static_cast<int32_t>(allowed.shape(1));
  sp.group_of = group_of.data();
  sp.n_globals = n_globals;
  sp.global_allowed = global_allowed.data();
  sp.n_values = static_cast<int32_t>(global_allowed.shape(1));
  if (kind == autobuild::kStageTable) {
    sp.table_offsets = table_offsets->data();
    sp.n_offsets = table_offsets->shape(0);
    sp.table_depths = table_depths->data();
    sp.table_rows = table_depths->shape(0);
    sp.table_choices = table_choices->data();
    sp.table_width = static_cast<int32_t>(table_choices->shape(1));
  }
  std::vector<int32_t> out;
  {
    py::gil_scoped_release release;
    out = autobuild::mutate(parents.data(), parents.shape(0), parents.shape(1), n_children, seed_u, kind, sp);
  }
  return to_array(std::move(out), {static_cast<py::ssize_t>(n_children), parents.shape(1)});
}

using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;
using U8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

void check_chain(const F32& xl, const F32& xr, const F32& att, const U8& has_pred) {
  if (xl.ndim() != 3 || xr.ndim() != 3 || xr.shape(0) != xl.shape(0) || xr.shape(1) != xl.shape(1) ||
      xr.shape(2) != xl.shape(2))
    throw std::invalid_argument("gat_chain: xl and xr must be float32[N, H, C] of equal shape");
  if (att.ndim() != 2 || att.shape(0) != xl.shape(1) || att.shape(1) != xl.shape(2))
    throw std::invalid_argument("gat_chain: att must be float32[H, C]");
  if (has_pred.ndim() != 1 || has_pred.shape(0) != xl.shape(0))
    throw std::invalid_argument("gat_chain: has_pred must be uint8[N]");
  if (xl.shape(0) && has_pred.data()[0]) throw std::invalid_argument("gat_chain: node 0 cannot have a predecessor");
}

py::tuple gat_chain_forward(F32 xl, F32 xr, F32 att, U8 has_pred, float slope) {
  check_chain(xl, xr, att, has_pred);
  const py::ssize_t n = xl.shape(0), h = xl.shape(1), c = xl.shape(2);
  std::vector<float> out(static_cast<size_t>(n * h * c)), a_prev(static_cast<size_t>(n * h)),
      a_self(static_cast<size_t>(n * h));
  {
    py::gil_scoped_release release;
    autobuild::gat_chain_forward(xl.data(), xr.data(), att.data(), has_pred.data(), n, h, c, slope, out.data(),
                                 a_prev.data(), a_self.data());
  }
  return py::make_tuple(to_array(std::move(out), {n, h, c}), to_array(std::move(a_prev), {n, h}),
                        to_array(std::move(a_self), {n, h}));
}

py::tuple gat_chain_backward(F32 grad, F32 xl, F32 xr, F32 att, U8 has_pred, float slope, F32 a_prev, F32 a_self) {
  check_chain(xl, xr, att, has_pred);
  const py::ssize_t n = xl.shape(0), h = xl.shape(1), c = xl.shape(2);
  if (grad.ndim() != 3 || grad.shape(0) != n || grad.shape(1) != h || grad.shape(2) != c || a_prev.ndim() != 2 ||
      a_prev.shape(0) != n || a_prev.shape(1) != h || a_self.ndim() != 2 || a_self.shape(0) != n ||
      a_self.shape(1) != h)
    throw std::invalid_argument("gat_chain_backward: grad [N, H, C], a_prev and a_self [N, H] expected");
  std::vector<float> dxl(static_cast<size_t>(n * h * c)), dxr(static_cast<size_t>(n * h * c)),
      datt(static_cast<size_t>(h * c));
  {
    py::gil_scoped_release release;
    autobuild::gat_chain_backward(grad.data(), xl.data(), xr.data(), att.data(), has_pred.data(), n, h, c, slope,
                                  a_prev.data(), a_self.data(), dxl.data(), dxr.data(), datt.data());
  }
  return py::make_tuple(to_array(std::move(dxl), {n, h, c}), to_array(std::move(dxr), {n, h, c}),
                        to_array(std::move(datt), {h, c}));
}


// Uninitialised float32 array of the given shape (the kernels write every element).
py::array_t<float> empty_f32(std::vector<py::ssize_t> shape) { return py::array_t<float>(shape); }

void check_layer(const F32& xlr, const F32& att, const U8& has_pred, const char* fn) {
  if (xlr.ndim() != 4 || xlr.shape(1) != 2)
    throw std::invalid_argument(std::string(fn) + ": xlr must be float32[N, 2, H, C]");
  if (att.ndim() != 2 || att.shape(0) != xlr.shape(2) || att.shape(1) != xlr.shape(3))
    throw std::invalid_argument(std::string(fn) + ": att must be float32[H, C]");
  if (has_pred.ndim() != 1 || has_pred.shape(0) != xlr.shape(0))
    throw std::invalid_argument(std::string(fn) + ": has_pred must be uint8[N]");
  if (xlr.shape(0) < 2) throw std::invalid_argument(std::string(fn) + ": batch statistics need at least 2 nodes");
  if (has_pred.data()[0]) throw std::invalid_argument(std::string(fn) + ": node 0 cannot have a predecessor");
}

void check_channels(const F32& a, py::ssize_t hc, const char* what, const char* fn) {
  if (a.ndim() != 1 || a.shape(0) != hc)
    throw std::invalid_argument(std::string(fn) + ": " + what + " must be float32[H * C]");
}

py::tuple gat_chain_bn_forward(F32 xlr, F32 att, U8 has_pred, float slope, F32 gamma, F32 beta, float eps,
                               std::optional<F32> residual) {
  const char* fn = "gat_chain_bn_forward";
  check_layer(xlr, att, has_pred, fn);
  const py::ssize_t n = xlr.shape(0), h = xlr.shape(2), c = xlr.shape(3), hc = h * c;
  check_channels(gamma, hc, "gamma", fn);
  check_channels(beta, hc, "beta", fn);
  if (residual && (residual->ndim() != 2 || residual->shape(0) != n || residual->shape(1) != hc))
    throw std::invalid_argument("gat_chain_bn_forward: residual must be float32[N, H * C]");
  auto out = empty_f32({n, hc}), xhat = empty_f32({n, hc}), a_prev = empty_f32({n, h}), a_self = empty_f32({n, h});
  auto mean = empty_f32({hc}), invstd = empty_f32({hc}), var = empty_f32({hc});
  float *po = out.mutable_data(), *px = xhat.mutable_data(), *pp = a_prev.mutable_data(), *ps = a_self.mutable_data();
  float *pm = mean.mutable_data(), *pi = invstd.mutable_data(), *pv = var.mutable_data();
  const float* pr = residual ? residual->data() : nullptr;
  {
    py::gil_scoped_release release;
    autobuild::gat_chain_bn_forward(xlr.data(), att.data(), has_pred.data(), n, h, c, slope, gamma.data(), beta.data(),
                                    eps, pr, po, pp, ps, px, pm, pi, pv);
  }
  return py::make_tuple(out, a_prev, a_self, xhat, mean, invstd, var);
}

py::tuple gat_chain_bn_backward(F32 grad, F32 xlr, F32 att, U8 has_pred, float slope, F32 a_prev, F32 a_self,
                                F32 xhat, F32 invstd, F32 gamma, F32 beta) {
  const char* fn = "gat_chain_bn_backward";
  check_layer(xlr, att, has_pred, fn);
  const py::ssize_t n = xlr.shape(0), h = xlr.shape(2), c = xlr.shape(3), hc = h * c;
  if (grad.ndim() != 2 || grad.shape(0) != n || grad.shape(1) != hc || xhat.ndim() != 2 || xhat.shape(0) != n ||
      xhat.shape(1) != hc)
    throw std::invalid_argument("gat_chain_bn_backward: grad and xhat must be float32[N, H * C]");
  if (a_prev.ndim() != 2 || a_prev.shape(0) != n || a_prev.shape(1) != h || a_self.ndim() != 2 ||
      a_self.shape(0) != n || a_self.shape(1) != h)
    throw std::invalid_argument("gat_chain_bn_backward: a_prev and a_self must be float32[N, H]");
  check_channels(invstd, hc, "invstd", fn);
  check_channels(gamma, hc, "gamma", fn);
  check_channels(beta, hc, "beta", fn);
  auto dxlr = empty_f32({n, 2, h, c}), datt = empty_f32({h, c}), dgamma = empty_f32({hc}), dbeta = empty_f32({hc});
  float *pd = dxlr.mutable_data(), *pa = datt.mutable_data(), *pg = dgamma.mutable_data(), *pb = dbeta.mutable_data();
  {
    py::gil_scoped_release release;
    autobuild::gat_chain_bn_backward(grad.data(), xlr.data(), att.data(), has_pred.data(), n, h, c, slope,
                                     a_prev.data(), a_self.data(), xhat.data(), invstd.data(), gamma.data(),
                                     beta.data(), pd, pa, pg, pb);
  }
  return py::make_tuple(dxlr, datt, dgamma, dbeta);
}

py::tuple soft_rank_pearson(F64 values, F64 target, double strength) {
  if (values.ndim() != 2 || target.ndim() != 1 || values.shape(1) != target.shape(0))
    throw std::invalid_argument("soft_rank_pearson: values must be float64[H, B] and target float64[B]");
  if (target.shape(0) < 1) throw std::invalid_argument("soft_rank_pearson: empty inputs");
  if (!(strength > 0.0)) throw std::invalid_argument("soft_rank_pearson: strength must be > 0");
  const py::ssize_t rows = values.shape(0), n = values.shape(1);
  py::array_t<double> corr({rows}), grad({rows, n});
  double *pc = corr.mutable_data(), *pg = grad.mutable_data();
  {
    py::gil_scoped_release release;
    autobuild::soft_rank_pearson(values.data(), target.data(), rows, n, strength, pc, pg);
  }
  return py::make_tuple(corr, grad);
}

py::tuple chain_loss_grad(F32 table, I64 idx, U8 has_pred, I64 batch, F32 denom, F32 y, F32 params, I64 offsets,
                          int64_t layers, int64_t heads, int64_t hidden, int64_t head_hidden, float slope, float eps,
                          float scale, double rank_weight, py::object grad_obj, double strength) {
  const std::string fn = "chain_loss_grad: ";
  auto fail = [&](const std::string& what) { throw std::invalid_argument(fn + what); };
  if (table.ndim() != 1 || idx.ndim() != 2) fail("table must be float32[T] and idx int64[N, F]");
  const py::ssize_t n = idx.shape(0), f = idx.shape(1), t = table.shape(0);
  if (n < 2) fail("batch statistics need at least 2 nodes");
  if (has_pred.ndim() != 1 || has_pred.shape(0) != n || batch.ndim() != 1 || batch.shape(0) != n)
    fail("has_pred and batch must have one entry per node");
  if (has_pred.data()[0]) fail("node 0 cannot have a predecessor");
  if (denom.ndim() != 1 || y.ndim() != 1 || y.shape(0) != denom.shape(0) || denom.shape(0) < 1)
    fail("denom and y must be float32[B], B >= 1");
  const py::ssize_t b = denom.shape(0);
  if (layers < 1 || heads < 1 || hidden < 1 || head_hidden < 1 || hidden % heads)
    fail("layers, heads, hidden, head_hidden >= 1 and hidden a multiple of heads");
  if (!(strength > 0.0)) fail("strength must be > 0");
  if (params.ndim() != 1) fail("params must be float32[P]");
  const py::ssize_t p = params.shape(0);
  // Sizes bounded by params before any product of them (no overflow below).
  if (layers > p || f > p / (2 * hidden) || hidden > p / (2 * hidden) || head_hidden > p / hidden)
    fail("params is too small for these layers, features and widths");
  const py::ssize_t np_ = 4 * layers + 4;
  if (offsets.ndim() != 1 || offsets.shape(0) != np_) fail("offsets must be int64[4 * layers + 4]");
  if (!py::isinstance<py::array>(grad_obj)) fail("grad must be a writeable contiguous float32 array the size of params");
  auto grad = py::reinterpret_borrow<py::array>(grad_obj);
  if (!py::isinstance<py::array_t<float>>(grad) || grad.ndim() != 1 || grad.shape(0) != p || !grad.writeable() ||
      !(grad.flags() & py::array::c_style))
    fail("grad must be a writeable contiguous float32 array the size of params");
  // Every parameter inside params, no two overlapping.
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (py::ssize_t j = 0; j < np_; ++j) {
    const int64_t o = offsets.data()[j], size = autobuild::chain_param_size(j, f, layers, hidden, head_hidden);
    if (o < 0 || size > p || o > p - size) fail("offsets place a parameter outside params");
    spans.emplace_back(o, o + size);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t j = 1; j < spans.size(); ++j)
    if (spans[j].first < spans[j - 1].second) fail("offsets make parameters overlap");
  auto* gp = static_cast<float*>(grad.mutable_data());
  auto overlaps = [&](const float* a, py::ssize_t size) { return gp < a + size && a < gp + p; };
  if (overlaps(params.data(), p) || overlaps(table.data(), t) || overlaps(denom.data(), b) || overlaps(y.data(), b))
    fail("grad must not share memory with params, table, denom or y");
  const float* pp = params.data();
  const int64_t* ip = idx.data();
  for (py::ssize_t i = 0; i < n * f; ++i)
    if (ip[i] < 0 || ip[i] >= t) fail("idx out of the table's range");
  const int64_t* bp = batch.data();
  const uint8_t* hp = has_pred.data();
  for (py::ssize_t i = 0; i < n; ++i)
    if (bp[i] < 0 || bp[i] >= b) fail("batch ids must be in [0, B)");
  for (py::ssize_t i = 1; i < n; ++i)
    if (hp[i] && bp[i] != bp[i - 1]) fail("has_pred links a node to one of another graph");
  for (py::ssize_t g = 0; g < b; ++g)
    if (!(denom.data()[g] >= 1.0f)) fail("denom must be >= 1");
  auto d_table = empty_f32({t});
  auto mean = empty_f32({static_cast<py::ssize_t>(layers), static_cast<py::ssize_t>(hidden)});
  auto var = empty_f32({static_cast<py::ssize_t>(layers), static_cast<py::ssize_t>(hidden)});
  double loss;
  {
    py::gil_scoped_release release;
    loss = autobuild::chain_loss_grad(table.data(), t, ip, n, f, hp, bp, denom.data(), b, y.data(), pp,
                                      offsets.data(), layers, heads, hidden / heads, head_hidden, slope, eps, scale,
                                      rank_weight, strength, gp, d_table.mutable_data(), mean.mutable_data(),
                                      var.mutable_data());
  }
  return py::make_tuple(loss, d_table, mean, var);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "autobuild C++ core (module enumeration, batch graph encoding, Eq. 5 calibration, evolutionary search, GATv2 chain attention)";
  m.def("enumerate_modules", &enumerate_modules, py::arg("min_depth"), py::arg("max_depth"), py::arg("n_choices"),
        "All stage subgraphs with min_depth..max_depth layers over n_choices layer choices (paper Sec. 7.2).\n"
        "Returns (depths int32[N], choices int32[N, max_depth] padded with -1).");
  m.def("encode_batch", &encode_batch, py::arg("codes"), py::arg("max_depth"), py::arg("n_choices"),
        py::arg("choice_features"), py::arg("n_globals"),
        "Encode arch codes into one batched sequence graph: (x int64[N, F], edge_index int64[2, E], "
        "batch int64[N], ptr int64[B+1]).");
  m.def("calibrate_scores", &calibrate_scores, py::arg("norms"), py::arg("hops"), py::arg("cells"),
        py::arg("hop_mean"), py::arg("hop_std"), py::arg("cell_mean"), py::arg("cell_std"),
        "Eq. 5: (norm - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c]; hop < 0 -> cell_mean[c].");
  m.def("hash_codes", &hash_codes, py::arg("codes"),
        "FNV-1a 64-bit hash of the little-endian bytes of every code row: uint64[N] (pass canonical codes).");
  m.def("non_dominated_rank", &non_dominated_rank, py::arg("points"),
        "Pareto front index of every point, minimising all objectives (0 = non-dominated): int32[N].");
  m.def("hypervolume_2d", &hypervolume_2d, py::arg("points"), py::arg("ref"),
        "Hypervolume of points[N, 2] (minimisation) bounded by ref[2]; points not strictly better than ref "
        "in both objectives add nothing.");
  m.def("mutate", &mutate, py::arg("parents"), py::arg("n_children"), py::arg("seed"), py::arg("kind"),
        py::arg("min_depth"), py::arg("max_depth"), py::arg("allowed"), py::arg("group_of"), py::arg("n_globals"),
        py::arg("global_allowed"), py::arg("table_offsets") = py::none(), py::arg("table_depths") = py::none(),
        py::arg("table_choices") = py::none(), py::arg("slot_width") = py::none(),
        "EA mutation (paper Sec. 7.5): n_children canonical codes, each one mutation of a uniform parent; "
        "kind 0 stage-full, 1 stage-table, 2 layer. See autobuild.core for the exact semantics.");
  m.def("gat_chain_forward", &gat_chain_forward, py::arg("xl"), py::arg("xr"), py::arg("att"), py::arg("has_pred"),
        py::arg("negative_slope"),
        "GATv2 attention on chains with self loops: (out float32[N, H, C], a_prev, a_self float32[N, H]).");
  m.def("gat_chain_backward", &gat_chain_backward, py::arg("grad"), py::arg("xl"), py::arg("xr"), py::arg("att"),
        py::arg("has_pred"), py::arg("negative_slope"), py::arg("a_prev"), py::arg("a_self"),
        "Vector-Jacobian product of gat_chain_forward: (dxl, dxr float32[N, H, C], datt float32[H, C]).");
  m.def("gat_chain_bn_forward", &gat_chain_bn_forward, py::arg("xlr"), py::arg("att"), py::arg("has_pred"),
        py::arg("negative_slope"), py::arg("gamma"), py::arg("beta"), py::arg("eps"), py::arg("residual") = py::none(),
        "GATv2 chain attention, batch norm (batch statistics), ReLU and residual: (out, a_prev, a_self, xhat, "
        "mean, invstd, var_unbiased).");
  m.def("gat_chain_bn_backward", &gat_chain_bn_backward, py::arg("grad"), py::arg("xlr"), py::arg("att"),
        py::arg("has_pred"), py::arg("negative_slope"), py::arg("a_prev"), py::arg("a_self"), py::arg("xhat"),
        py::arg("invstd"), py::arg("gamma"), py::arg("beta"),
        "Vector-Jacobian product of gat_chain_bn_forward: (dxlr float32[N, 2, H, C], datt, dgamma, dbeta).");
  m.def("soft_rank_pearson", &soft_rank_pearson, py::arg("values"), py::arg("target"), py::arg("strength") = 1.0,
        "Pearson correlation of each row's L2 soft ranks with target, and its gradient: (corr float64[H], "
        "grad float64[H, B]).");
  m.def("chain_loss_grad", &chain_loss_grad, py::arg("table"), py::arg("idx"), py::arg("has_pred"), py::arg("batch"),
        py::arg("denom"), py::arg("y"), py::arg("params"), py::arg("offsets"), py::arg("layers"), py::arg("heads"),
        py::arg("hidden"), py::arg("head_hidden"), py::arg("negative_slope"), py::arg("eps"), py::arg("scale"),
        py::arg("rank_weight"), py::arg("grad"), py::arg("strength") = 1.0,
        "The predictor's Eq. 4 training loss on a batch of chains and its gradient in one call: writes every "
        "parameter's gradient into grad, returns (loss, d_table, batch_mean, batch_var). See autobuild.core.");
}
