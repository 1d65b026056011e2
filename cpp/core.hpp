// autobuild C++ core: the hot loops of AutoBuild (Mills et al., CVPR 2024).
//
// Every function here has a Numba twin with the same signature in
// python/autobuild/core/numba_backend.py; tests run both and compare outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

// Vector clones of the hot loops, chosen at load time by the CPU (GCC / Clang ifunc on x86-64
// Linux); a single portable build elsewhere. The clones compute the same float operations in
// wider lanes; only the (reordered) reductions may differ in rounding. No AVX-512 clone: on the
// 32-channel rows of the predictor it ran the fused training step 8-30 % slower than the AVX2
// one (AMD EPYC, Zen 4; interleaved runs of the whole chain_loss_grad).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(AUTOBUILD_NO_CLONES)
#define AUTOBUILD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AUTOBUILD_CLONES
#endif
// Helpers of the clones must be inlined into each to be compiled for its instruction set (one left
// out of line is compiled once, for the baseline: attention_backward was).
#if defined(__GNUC__)
#define AUTOBUILD_INLINE inline __attribute__((always_inline))
#else
#define AUTOBUILD_INLINE inline
#endif

namespace autobuild {

// Code layout: stage s owns slot columns [offset[s], offset[s] + widths[s]) after the depths.
// Fills offset[0..n) and returns the number of slots.
inline int64_t slot_offsets(const int32_t* widths, int32_t n, std::vector<int64_t>& offset) {
  offset.assign(static_cast<size_t>(n), 0);
  int64_t total = 0;
  for (int32_t s = 0; s < n; ++s) {
    offset[s] = total;
    total += widths[s];
  }
  return total;
}

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

namespace autobuild {

// Evolutionary search (paper Sec. 5.2, 7.5): the EA of [25] keeps the Pareto frontier of the
// evaluated archs and mutates it, "randomly swapping unit subgraphs" (Stage-Full, AutoBuild-NAS) or
// adding / removing / editing one layer (Layer-Full, Layer-Insight).

// FNV-1a 64-bit hash of the little-endian bytes of every code row (dedup of canonical codes).
void hash_codes(const int32_t* codes, int64_t n, int64_t code_len, uint64_t* out);

// Pareto front index of every point under minimisation of all objectives (0 = non-dominated),
// fast non-dominated sort (Deb et al. 2002). Throws on NaN.
void non_dominated_rank(const double* points, int64_t n, int64_t n_obj, int32_t* out);

// Area dominated by the points (minimisation) inside the box bounded by ref; points not strictly
// better than ref in both objectives contribute nothing. O(N log N) sweep. Throws on NaN.
double hypervolume_2d(const double* points, int64_t n, const double* ref);

// The search space as the mutation operator sees it: per-stage depth bounds (max_depth may be
// lowered below the code's slot width, e.g. for Layer-Insight), allowed layer choices
// allowed[s * n_choices + c], module groups (group_of[s], groups numbered 0, 1, ... in stage order),
// allowed global values global_allowed[k * n_values + v] and, for kind 1, a module table per group
// (rows table_offsets[g] .. table_offsets[g + 1] - 1 of table_depths / table_choices).
struct MutationSpace {
  int32_t n_stages = 0;
  const int32_t* min_depth = nullptr;
  const int32_t* max_depth = nullptr;
  const int32_t* slot_width = nullptr;
  const uint8_t* allowed = nullptr;
  int32_t n_choices = 0;
  const int32_t* group_of = nullptr;
  int32_t n_globals = 0;
  const uint8_t* global_allowed = nullptr;
  int32_t n_values = 0;
  const int64_t* table_offsets = nullptr;
  int64_t n_offsets = 0;
  const int32_t* table_depths = nullptr;
  int64_t table_rows = 0;
  const int32_t* table_choices = nullptr;
  int32_t table_width = 0;
};

enum MutationKind : int32_t { kStageFull = 0, kStageTable = 1, kLayer = 2 };

// n_children mutated copies of the parents, canonical codes [n_children, code_len]. Random numbers:
// splitmix64 seeded with `seed`; a uniform integer in [0, n) is next() % n (one next() per draw,
// also when n == 1). See python/autobuild/core/__init__.py for the exact draw order.
std::vector<int32_t> mutate(const int32_t* parents, int64_t n_parents, int64_t code_len, int64_t n_children,
                            uint64_t seed, int32_t kind, const MutationSpace& space);

}  // namespace autobuild

namespace autobuild {

// GATv2 attention on chains with self loops (autobuild.models.gatv2, dense training path):
// xl, xr [n, heads, ch]; att [heads, ch]; has_pred[i]: node i - 1 precedes node i.
// out [n, heads, ch], a_prev / a_self [n, heads] (softmax weights of predecessor and self).
void gat_chain_forward(const float* xl, const float* xr, const float* att, const uint8_t* has_pred, int64_t n,
                       int64_t heads, int64_t ch, float slope, float* out, float* a_prev, float* a_self);
// Vector-Jacobian product for g = d loss / d out: dxl, dxr [n, heads, ch], datt [heads, ch].
void gat_chain_backward(const float* g, const float* xl, const float* xr, const float* att, const uint8_t* has_pred,
                        int64_t n, int64_t heads, int64_t ch, float slope, const float* a_prev, const float* a_self,
                        float* dxl, float* dxr, float* datt);
// The training layer after the linear maps, on xlr [n, 2, heads, ch] (x_l then x_r of every node):
// a = attention; batch statistics mean, invstd = 1 / sqrt(biased var + eps), var_unbiased [heads * ch];
// xhat = (a - mean) * invstd [n, heads * ch]; out = relu(gamma * xhat + beta) + residual (nullable).
void gat_chain_bn_forward(const float* xlr, const float* att, const uint8_t* has_pred, int64_t n, int64_t heads,
                          int64_t ch, float slope, const float* gamma, const float* beta, float eps,
                          const float* residual, float* out, float* a_prev, float* a_self, float* xhat, float* mean,
                          float* invstd, float* var_unbiased);
// Its vector-Jacobian product for grad = d loss / d out (the residual's is grad itself):
// dxlr [n, 2, heads, ch], datt [heads, ch], dgamma, dbeta [heads * ch].
void gat_chain_bn_backward(const float* grad, const float* xlr, const float* att, const uint8_t* has_pred, int64_t n,
                           int64_t heads, int64_t ch, float slope, const float* a_prev, const float* a_self,
                           const float* xhat, const float* invstd, const float* gamma, const float* beta, float* dxlr,
                           float* datt, float* dgamma, float* dbeta);


// Hop-level ranking term of Eq. 4 (the authors' form): per row b of values [rows, n], the Pearson
// correlation corr[b] of the L2 soft ranks (strength `strength`, torchsort semantics) of the row
// with target [n] (not ranked), and grad[b] = d corr[b] / d values[b] (0 for constant ranks or a
// constant target). Float64 throughout.
void soft_rank_pearson(const double* values, const double* target, int64_t rows, int64_t n, double strength,
                       double* corr, double* grad);


// Dense product C [n, m] = A B for the fused training step: A(r, kk) = A[r * ars + kk * aks]
// (row-major A: ars = k, aks = 1; A^T of a row-major [k, n] matrix: ars = 1, aks = n), B row-major
// [k, m], C row-major (overwritten). AVX2 / FMA register tiles where the CPU has them.
void gemm(const float* A, int64_t ars, int64_t aks, const float* B, int64_t n, int64_t k, int64_t m, float* C);

// Size of parameter j of chain_loss_grad (its offsets[j]): per hop m = j / 4, W = [W_l; W_r]
// [2 hc, K_m] (K_0 = f, else hc), att [hc], gamma [hc], beta [hc]; then the head's w1 [d, hc],
// b1 [d], w2 [d], b2 [1].
int64_t chain_param_size(int64_t j, int64_t f, int64_t layers, int64_t hc, int64_t d);

// The training loss of Eq. 4 (authors' hop term) on a batch of chains and its gradient, in one call
// (chain_loss.cpp): h^0 = |table[idx]| (idx [n, f] into table [n_table]); hop m:
// ReLU(BN(GATv2 on chains)) (+ h^m for m >= 1), batch statistics; graph norms per graph (batch [n]
// in [0, b), denom [b] = nodes per graph, >= 1); the head Linear(hc, d) -> ReLU -> Linear(d, 1) on
// the mean of the last hop; loss = mean (pred - y)^2 + rank_weight * mean over hops
// (1 - Pearson(soft rank_strength(graph norms), y)). Parameter j is params[offsets[j] ...] (sizes:
// chain_param_size); its gradient is written to the same place of grad (nothing else of grad is
// touched). Also writes d_table [n_table] and the batch statistics bn_mean, bn_var (unbiased)
// [layers, hc]; returns the loss.
double chain_loss_grad(const float* table, int64_t n_table, const int64_t* idx, int64_t n, int64_t f,
                       const uint8_t* has_pred, const int64_t* batch, const float* denom, int64_t b, const float* y,
                       const float* params, const int64_t* offsets, int64_t layers, int64_t heads, int64_t ch,
                       int64_t d, float slope, float eps, float scale, double rank_weight, double strength,
                       float* grad, float* d_table, float* bn_mean, float* bn_var);

}  // namespace autobuild
