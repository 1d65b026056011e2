// pybind11 bindings of the C++ core: module autobuild._core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
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

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "autobuild C++ core (module enumeration, batch graph encoding, Eq. 5 calibration)";
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
}
