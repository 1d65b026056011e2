// Eq. 5: comparing subgraph scores across hop levels (paper Sec. 4.2, supp. 7.3).
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace autobuild {

void calibrate_scores(const double* norms, const int32_t* hops, const int32_t* cells, int64_t n,
                      const double* hop_mean, const double* hop_std, int32_t n_hops, const double* cell_mean,
                      const double* cell_std, int32_t n_cells, double* out) {
  for (int32_t h = 0; h < n_hops; ++h)
    if (!(hop_std[h] > 0)) throw std::invalid_argument("calibrate_scores: hop std must be > 0");
  for (int64_t i = 0; i < n; ++i) {
    const int32_t h = hops[i], c = cells[i];
    if (c < 0 || c >= n_cells) throw std::invalid_argument("calibrate_scores: cell index out of range");
    if (h >= n_hops) throw std::invalid_argument("calibrate_scores: hop index out of range");
    out[i] = h < 0 ? cell_mean[c] : (norms[i] - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c];
  }
}

}  // namespace autobuild
