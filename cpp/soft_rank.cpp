// Pearson correlation of L2 soft ranks with a target, and its gradient (the hop-level ranking
// term of the AutoBuild loss, paper Eq. 4, in the authors' form ge_utils/diff_srcc.py). Soft
// ranks of Blondel et al. 2020 (ICML, "Fast Differentiable Sorting and Ranking") with torchsort's
// semantics; same arithmetic as the Numba twin (autobuild/core/numba_backend.py) and as
// autobuild.models.softrank (see autobuild.core for the contract).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core.hpp"

namespace autobuild {

namespace {
constexpr double kBlockTol = 1e-9;  // isotonic values closer than this belong to one block

// Row-wise argmin_v ||v - y||^2 s.t. v_1 >= ... >= v_n (pool adjacent violators).
void isotonic_decreasing(const double* y, int64_t n, double* sol, double* sums, double* sizes, int64_t* starts) {
  int64_t top = -1;
  for (int64_t i = 0; i < n; ++i) {
    ++top;
    sums[top] = y[i];
    sizes[top] = 1.0;
    starts[top] = i;
    while (top > 0 && sums[top - 1] / sizes[top - 1] <= sums[top] / sizes[top]) {
      sums[top - 1] += sums[top];
      sizes[top - 1] += sizes[top];
      --top;
    }
  }
  for (int64_t k = 0; k <= top; ++k) {
    const double mean = sums[k] / sizes[k];
    const int64_t end = k < top ? starts[k + 1] : n;
    for (int64_t j = starts[k]; j < end; ++j) sol[j] = mean;
  }
}
}  // namespace

void soft_rank_pearson(const double* values, const double* target, int64_t rows, int64_t n, double strength,
                       double* corr, double* grad) {
  // The target, centred and scaled to unit norm (all zero when it is constant).
  std::vector<double> uy(static_cast<size_t>(n));
  double ty = 0.0, lo = target[0], hi = target[0];
  for (int64_t i = 0; i < n; ++i) {
    ty += target[i];
    lo = std::min(lo, target[i]);
    hi = std::max(hi, target[i]);
  }
  const double my = ty / static_cast<double>(n);
  double ny = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    uy[i] = target[i] - my;
    ny += uy[i] * uy[i];
  }
  ny = std::sqrt(ny);
  for (int64_t i = 0; i < n; ++i) uy[i] = hi - lo <= 0.0 ? 0.0 : uy[i] / ny;

  const double scale = 1.0 / strength;
  std::vector<int64_t> order(static_cast<size_t>(n)), starts(static_cast<size_t>(n));
  std::vector<double> theta(static_cast<size_t>(n)), z(static_cast<size_t>(n)), dual(static_cast<size_t>(n)),
      r(static_cast<size_t>(n)), sums(static_cast<size_t>(n)), sizes(static_cast<size_t>(n)), g(static_cast<size_t>(n)),
      pooled(static_cast<size_t>(n));
  for (int64_t b = 0; b < rows; ++b) {
    const double* v = values + b * n;
    double* out = grad + b * n;
    for (int64_t i = 0; i < n; ++i) theta[i] = v[i] * scale;
    // Descending, ties in input order, NaN last (as numpy's stable argsort of -theta).
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
      return !std::isnan(theta[a]) && (std::isnan(theta[c]) || theta[a] > theta[c]);
    });
    for (int64_t k = 0; k < n; ++k) z[k] = theta[order[k]] - static_cast<double>(n - k);
    isotonic_decreasing(z.data(), n, dual.data(), sums.data(), sizes.data(), starts.data());
    for (int64_t k = 0; k < n; ++k) r[order[k]] = theta[order[k]] - dual[k];
    // Pearson correlation of the ranks with the target (0, gradient 0, for constant ranks).
    double tr = 0.0, rlo = r[0], rhi = r[0];
    for (int64_t i = 0; i < n; ++i) {
      tr += r[i];
      rlo = std::min(rlo, r[i]);
      rhi = std::max(rhi, r[i]);
    }
    if (!(rhi - rlo > 0.0) && !std::isnan(rhi - rlo)) {
      corr[b] = 0.0;
      std::fill(out, out + n, 0.0);
      continue;
    }
    const double mr = tr / static_cast<double>(n);
    double nr = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      r[i] -= mr;
      nr += r[i] * r[i];
    }
    nr = std::sqrt(nr);
    double c = 0.0;
    for (int64_t i = 0; i < n; ++i) c += (r[i] / nr) * uy[i];
    corr[b] = c;
    // d corr / d ranks = (uy - corr * ur) / ||r - mean||, centred.
    double mg = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      g[i] = (uy[i] - c * (r[i] / nr)) / nr;
      mg += g[i];
    }
    mg /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) g[i] -= mg;
    // Soft-rank VJP: (g - P^T block_mean(P g)) / strength over the blocks of the isotonic solution.
    int64_t start = 0;
    for (int64_t i = 1; i <= n; ++i) {
      if (i == n || std::abs(dual[i] - dual[i - 1]) > kBlockTol) {
        double total = 0.0;
        for (int64_t j = start; j < i; ++j) total += g[order[j]];
        const double val = 1.0 / static_cast<double>(i - start);
        for (int64_t j = start; j < i; ++j) pooled[j] = val * total;
        start = i;
      }
    }
    for (int64_t k = 0; k < n; ++k) out[order[k]] = (g[order[k]] - pooled[k]) * scale;
  }
}

}  // namespace autobuild
