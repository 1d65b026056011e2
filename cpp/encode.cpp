// Batch graph encoding: the hot path that feeds the GNN (paper Sec. 3.1, 4.1).
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace autobuild {

GraphTensors encode_batch(const int32_t* codes, int64_t n_archs, int64_t code_len,
                          const int32_t* max_depth, const int32_t* n_choices, int32_t n_stages,
                          const int32_t* choice_features, int32_t max_choices, int32_t n_choice_features,
                          int32_t n_globals) {
  std::vector<int64_t> offset;
  const int64_t n_slots = slot_offsets(max_depth, n_stages, offset);
  if (code_len != n_stages + n_slots + n_globals)
    throw std::invalid_argument("encode_batch: code length does not match the space layout");

  GraphTensors g;
  g.n_features = 2 + n_choice_features + n_globals;
  g.ptr.assign(static_cast<size_t>(n_archs + 1), 0);
  for (int64_t b = 0; b < n_archs; ++b) {
    const int32_t* c = codes + b * code_len;
    int64_t n = 0;
    for (int32_t s = 0; s < n_stages; ++s) {
      if (c[s] < 0 || c[s] > max_depth[s])
        throw std::invalid_argument("encode_batch: arch " + std::to_string(b) + ": stage depth out of range");
      n += c[s];
    }
    g.ptr[b + 1] = g.ptr[b] + n;
  }
  g.nodes = g.ptr[n_archs];
  int64_t empty = 0;
  for (int64_t b = 0; b < n_archs; ++b) empty += (g.ptr[b + 1] == g.ptr[b]);
  g.edges = g.nodes - (n_archs - empty);
  g.x.assign(static_cast<size_t>(g.nodes * g.n_features), 0);
  g.batch.assign(static_cast<size_t>(g.nodes), 0);
  g.edge_index.assign(static_cast<size_t>(2 * g.edges), 0);

  const int32_t F = g.n_features;
  int64_t e = 0;
  for (int64_t b = 0; b < n_archs; ++b) {
    const int32_t* c = codes + b * code_len;
    const int32_t* glob = c + n_stages + n_slots;
    for (int32_t k = 0; k < n_globals; ++k)
      if (glob[k] < 0)
        throw std::invalid_argument("encode_batch: arch " + std::to_string(b) + ": negative global index");
    int64_t v = g.ptr[b];
    for (int32_t s = 0; s < n_stages; ++s) {
      for (int32_t j = 0; j < c[s]; ++j, ++v) {
        const int32_t ch = c[n_stages + offset[s] + j];
        if (ch < 0 || ch >= n_choices[s])
          throw std::invalid_argument("encode_batch: arch " + std::to_string(b) + ": layer choice out of range");
        int64_t* row = g.x.data() + v * F;
        row[0] = s;
        row[1] = j;
        const int32_t* cf = choice_features + (static_cast<int64_t>(s) * max_choices + ch) * n_choice_features;
        for (int32_t f = 0; f < n_choice_features; ++f) row[2 + f] = cf[f];
        for (int32_t k = 0; k < n_globals; ++k) row[2 + n_choice_features + k] = glob[k];
        g.batch[v] = b;
        if (v > g.ptr[b]) {
          g.edge_index[e] = v - 1;
          g.edge_index[g.edges + e] = v;
          ++e;
        }
      }
    }
  }
  return g;
}

}  // namespace autobuild
