// Small dense matrix products for the fused training step (chain_loss.cpp): C = A B with A read
// through strides (so that A^T B needs no copy) and B row-major. The predictor's products are
// tall and thin (about 2,000 nodes x 32 x 64), which a register-blocked AVX2 / FMA tile runs near
// the core's peak; other CPUs take the portable loops. Both sum in the same order per element
// (k ascending), so they differ only where FMA contraction rounds differently.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core.hpp"

// The AVX2 tiles are chosen at run time by the CPU on any x86-64 GCC / Clang build; AUTOBUILD_NO_CLONES
// (a portable build without runtime dispatch) leaves the portable loops only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(AUTOBUILD_NO_CLONES)
#define AUTOBUILD_AVX2 1
#include <immintrin.h>
#endif

namespace autobuild {

namespace {

// C[r, j] (+)= sum_kk A[r * ars + kk * aks] * B[kk * m + j] for rows r0..r1, columns j0..j1.
void gemm_portable(const float* A, int64_t ars, int64_t aks, const float* B, int64_t k, int64_t m, float* C,
                   int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
  for (int64_t r = r0; r < r1; ++r) {
    float* __restrict c = C + r * m;
    for (int64_t j = j0; j < j1; ++j) c[j] = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float a = A[r * ars + kk * aks];
      const float* __restrict b = B + kk * m;
      for (int64_t j = j0; j < j1; ++j) c[j] += a * b[j];
    }
  }
}

#ifdef AUTOBUILD_AVX2
#define AB_AVX2 __attribute__((target("avx2,fma")))

// Tiles of R <= 6 rows x 16 columns and R <= 8 rows x 8 columns kept in registers over the whole
// k loop (named accumulators: GCC spills an array of vectors to the stack on every iteration).
#define AB_A(i) _mm256_broadcast_ss(a + (i) * ars + kk * aks)
#define AB_F16(i)                                  \
  if constexpr (R > (i)) {                         \
    const __m256 ai = AB_A(i);                     \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);    \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);    \
  }
#define AB_S16(i)                                                  \
  if constexpr (R > (i)) {                                         \
    _mm256_storeu_ps(C + (r + (i)) * m + j, c##i##0);              \
    _mm256_storeu_ps(C + (r + (i)) * m + j + 8, c##i##1);          \
  }
#define AB_F8(i) \
  if constexpr (R > (i)) c##i = _mm256_fmadd_ps(AB_A(i), b0, c##i);
#define AB_S8(i) \
  if constexpr (R > (i)) _mm256_storeu_ps(C + (r + (i)) * m + j, c##i);

template <int R>
AB_AVX2 void tile16(const float* A, int64_t ars, int64_t aks, const float* B, int64_t k, int64_t m, float* C,
                    int64_t r, int64_t j) {
  static_assert(R >= 1 && R <= 6, "16-column tiles hold at most 6 rows");
  const __m256 z = _mm256_setzero_ps();
  __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  const float* a = A + r * ars;
  const float* b = B + j;
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(b + kk * m), b1 = _mm256_loadu_ps(b + kk * m + 8);
    AB_F16(0) AB_F16(1) AB_F16(2) AB_F16(3) AB_F16(4) AB_F16(5)
  }
  AB_S16(0) AB_S16(1) AB_S16(2) AB_S16(3) AB_S16(4) AB_S16(5)
}

template <int R>
AB_AVX2 void tile8(const float* A, int64_t ars, int64_t aks, const float* B, int64_t k, int64_t m, float* C,
                   int64_t r, int64_t j) {
  static_assert(R >= 1 && R <= 8, "8-column tiles hold at most 8 rows");
  const __m256 z = _mm256_setzero_ps();
  __m256 c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
  const float* a = A + r * ars;
  const float* b = B + j;
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(b + kk * m);
    AB_F8(0) AB_F8(1) AB_F8(2) AB_F8(3) AB_F8(4) AB_F8(5) AB_F8(6) AB_F8(7)
  }
  AB_S8(0) AB_S8(1) AB_S8(2) AB_S8(3) AB_S8(4) AB_S8(5) AB_S8(6) AB_S8(7)
}

// f(std::integral_constant<int, rows>) for 1 <= rows <= Max: the rows left after the full tiles, in
// one tile of their own.
template <int Max, typename F>
inline void with_rows(int64_t rows, F&& f) {
  if constexpr (Max > 0) {
    if (rows == Max) {
      f(std::integral_constant<int, Max>{});
    } else {
      with_rows<Max - 1>(rows, f);
    }
  }
}

AB_AVX2 void gemm_avx2(const float* A, int64_t ars, int64_t aks, const float* B, int64_t n, int64_t k, int64_t m,
                       float* C) {
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    int64_t r = 0;
    for (; r + 6 <= n; r += 6) tile16<6>(A, ars, aks, B, k, m, C, r, j);
    with_rows<5>(n - r, [&](auto rows) { tile16<decltype(rows)::value>(A, ars, aks, B, k, m, C, r, j); });
  }
  for (; j + 8 <= m; j += 8) {
    int64_t r = 0;
    for (; r + 8 <= n; r += 8) tile8<8>(A, ars, aks, B, k, m, C, r, j);
    with_rows<7>(n - r, [&](auto rows) { tile8<decltype(rows)::value>(A, ars, aks, B, k, m, C, r, j); });
  }
  if (j < m) gemm_portable(A, ars, aks, B, k, m, C, 0, n, j, m);
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

}  // namespace

void gemm(const float* A, int64_t ars, int64_t aks, const float* B, int64_t n, int64_t k, int64_t m, float* C) {
  if (n <= 0 || m <= 0) return;
  if (k <= 0) {
    std::fill(C, C + n * m, 0.0f);
    return;
  }
#ifdef AUTOBUILD_AVX2
  if (has_avx2()) {
    const int64_t tail = m % 8;
    if (tail == 0 || m > 64) {  // wide: vector tiles, then the last columns one by one
      gemm_avx2(A, ars, aks, B, n, k, m, C);
      return;
    }
    // Narrow and ragged (e.g. one scalar per feature category): zero-pad B's columns to a multiple of 8.
    const int64_t mp = m + 8 - tail;
    std::vector<float> bp(static_cast<size_t>(k * mp), 0.0f), cp(static_cast<size_t>(n * mp));
    for (int64_t kk = 0; kk < k; ++kk) std::memcpy(bp.data() + kk * mp, B + kk * m, sizeof(float) * m);
    gemm_avx2(A, ars, aks, bp.data(), n, k, mp, cp.data());
    for (int64_t r = 0; r < n; ++r) std::memcpy(C + r * m, cp.data() + r * mp, sizeof(float) * m);
    return;
  }
#endif
  gemm_portable(A, ars, aks, B, k, m, C, 0, n, 0, m);
}

}  // namespace autobuild
