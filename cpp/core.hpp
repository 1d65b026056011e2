// autobuild C++ core: the hot loops of AutoBuild (Mills et al., CVPR 2024).
//
// Every function here has a Numba twin with the same signature in
// python/autobuild/core/numba_backend.py; tests run both and compare outputs.
#pragma once

#include <cstdint>
#include <vector>

namespace autobuild {

// Stage-subgraph ("module") enumeration, paper Sec. 7.2: every sequence of
// `l` layers, l in [min_depth, max_depth], each drawn with replacement from
// `n_choices` layer choices. Rows ordered by depth, then lexicographically
// (last layer varies fastest). `choices` is row-major [rows, max_depth],
// padded with -1.
struct ModuleTable {
  int64_t rows = 0;
  int32_t width = 0;
  std::vector<int32_t> depths;
  std::vector<int32_t> choices;
};

int64_t count_modules(int32_t min_depth, int32_t max_depth, int32_t n_choices);
ModuleTable enumerate_modules(int32_t min_depth, int32_t max_depth, int32_t n_choices);

// Batch graph encoding (paper Sec. 3.1, Fig. 1): arch codes -> one batched
// sequence graph. A code row is [d_0..d_{S-1}, slot choice indices..., global
// value indices...]; node features are [stage, layer, choice features...,
// globals...] as value indices; edges i -> i+1 inside each arch.
struct GraphTensors {
  int64_t nodes = 0;
  int64_t edges = 0;
  int32_t n_features = 0;
  std::vector<int64_t> x;           // [nodes, n_features]
  std::vector<int64_t> edge_index;  // [2, edges]
  std::vector<int64_t> batch;       // [nodes]
  std::vector<int64_t> ptr;         // [archs + 1]
};

GraphTensors encode_batch(const int32_t* codes, int64_t n_archs, int64_t code_len,
                          const int32_t* max_depth, const int32_t* n_choices, int32_t n_stages,
                          const int32_t* choice_features, int32_t max_choices, int32_t n_choice_features,
                          int32_t n_globals);

}  // namespace autobuild

namespace autobuild {

// Eq. 5 calibration (paper Sec. 4.2): shift a hop-m embedding norm from the hop
// distribution N(mu_m^h, sigma_m^h) to the label distribution N(mu_{u,l}^y,
// sigma_{u,l}^y) of its (stage, depth) cell:
//   s* = (norm - mu_m^h) * sigma_{u,l}^y / sigma_m^h + mu_{u,l}^y.
// hops[i] < 0 marks an empty module (no node): its score is the cell mean.
void calibrate_scores(const double* norms, const int32_t* hops, const int32_t* cells, int64_t n,
                      const double* hop_mean, const double* hop_std, int32_t n_hops, const double* cell_mean,
                      const double* cell_std, int32_t n_cells, double* out);

}  // namespace autobuild
