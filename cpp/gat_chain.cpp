// GATv2 attention on a batch of chains (the dense training path of autobuild.models.gatv2):
// node i attends to itself and, where has_pred[i], to node i - 1. Same arithmetic as the
// Numba twin (autobuild/core/numba_backend.py); see autobuild.core for the contract.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core.hpp"

namespace autobuild {

namespace {
// u > 0 ? a : b without a branch (random signs would mispredict half the time; a float compare
// stays a branch under -ftrapping-math) and without an int -> float conversion (cvtsi2ss has a
// false dependency that serialises the loop): integer masks on the bits. A positive non-NaN float
// is a positive int32, so +-0 and negatives select b, as torch's (leaky_)relu backward.
inline float select_positive(float u, float a, float b) {
  int32_t ub, ab, bb;
  std::memcpy(&ub, &u, sizeof ub);
  std::memcpy(&ab, &a, sizeof ab);
  std::memcpy(&bb, &b, sizeof bb);
  const int32_t mask = -static_cast<int32_t>(ub > 0);
  const int32_t rb = (ab & mask) | (bb & ~mask);
  float r;
  std::memcpy(&r, &rb, sizeof r);
  return r;
}
inline float lrelu(float u, float slope) { return select_positive(u, u, u * slope); }
inline float dlrelu(float u, float slope) { return select_positive(u, 1.0f, slope); }
}  // namespace

namespace {
struct RowScalars {
  float a_self, s_self, s_prev, a_next, s_next, slope;  // weights and logit gradients of the row
};

// One (node, head) row of pass 2 of the backward; restrict parameters let the loop vectorise.
void row_backward(const float* __restrict li, const float* __restrict lj, const float* __restrict ri,
                  const float* __restrict rk, const float* __restrict gi, const float* __restrict gk,
                  const float* __restrict a, RowScalars r, int64_t ch, float* __restrict oxl,
                  float* __restrict oxr, float* __restrict oat) {
  for (int64_t c = 0; c < ch; ++c) {
    const float u = li[c] + ri[c];
    const float v = lj[c] + ri[c];
    const float w = li[c] + rk[c];
    const float t_s = r.s_self * a[c] * dlrelu(u, r.slope);
    const float t_p = r.s_prev * a[c] * dlrelu(v, r.slope);
    const float t_n = r.s_next * a[c] * dlrelu(w, r.slope);
    oxr[c] = t_s + t_p;
    oxl[c] = r.a_self * gi[c] + t_s + r.a_next * gk[c] + t_n;
    oat[c] += r.s_self * lrelu(u, r.slope) + r.s_prev * lrelu(v, r.slope);
  }
}
}  // namespace

namespace {
// The two attention logits of a row. The sums may be reordered into vector lanes (OpenMP SIMD
// reduction, compiled with -fopenmp-simd; as the Numba twin's fastmath sum): the results agree
// with a sequential sum to float rounding.
void logits(const float* __restrict li, const float* __restrict lj, const float* __restrict ri,
            const float* __restrict a, int64_t ch, float slope, float* e_self, float* e_prev) {
  float es = 0.0f, ep = 0.0f;
#pragma omp simd reduction(+ : es, ep)
  for (int64_t c = 0; c < ch; ++c) {
    es += a[c] * lrelu(li[c] + ri[c], slope);
    ep += a[c] * lrelu(lj[c] + ri[c], slope);
  }
  *e_self = es;
  *e_prev = ep;
}
}  // namespace

void gat_chain_forward(const float* xl, const float* xr, const float* att, const uint8_t* has_pred, int64_t n,
                       int64_t heads, int64_t ch, float slope, float* out, float* a_prev, float* a_self) {
  for (int64_t i = 0; i < n; ++i) {
    const bool p = has_pred[i] != 0;
    const int64_t j = p ? i - 1 : i;  // without a predecessor, node i stands in with weight 0
    for (int64_t h = 0; h < heads; ++h) {
      const float* li = xl + (i * heads + h) * ch;
      const float* lj = xl + (j * heads + h) * ch;
      const float* ri = xr + (i * heads + h) * ch;
      const float* a = att + h * ch;
      float e_s = 0.0f, e_p = 0.0f;
      logits(li, lj, ri, a, ch, slope, &e_s, &e_p);
      const float top = p ? std::max(e_s, e_p) : e_s;
      const float w_s = std::exp(e_s - top);
      const float w_p = p ? std::exp(e_p - top) : 0.0f;
      const float tot = (w_p + w_s) + 1e-16f;
      const float ap = w_p / tot, as = w_s / tot;
      a_prev[i * heads + h] = ap;
      a_self[i * heads + h] = as;
      float* o = out + (i * heads + h) * ch;
      for (int64_t c = 0; c < ch; ++c) o[c] = lj[c] * ap + li[c] * as;
    }
  }
}

void gat_chain_backward(const float* g, const float* xl, const float* xr, const float* att, const uint8_t* has_pred,
                        int64_t n, int64_t heads, int64_t ch, float slope, const float* a_prev, const float* a_self,
                        float* dxl, float* dxr, float* datt) {
  std::vector<float> s_self(static_cast<size_t>(n * heads)), s_prev(static_cast<size_t>(n * heads));
  // Pass 1: d loss / d logit of every node and head (softmax backward).
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = has_pred[i] ? i - 1 : i;
    for (int64_t h = 0; h < heads; ++h) {
      const float* gi = g + (i * heads + h) * ch;
      const float* li = xl + (i * heads + h) * ch;
      const float* lj = xl + (j * heads + h) * ch;
      float d_s = 0.0f, d_p = 0.0f;
#pragma omp simd reduction(+ : d_s, d_p)
      for (int64_t c = 0; c < ch; ++c) {
        d_s += gi[c] * li[c];
        d_p += gi[c] * lj[c];
      }
      const float as = a_self[i * heads + h], ap = a_prev[i * heads + h];
      const float dot = as * d_s + ap * d_p;
      s_self[i * heads + h] = as * (d_s - dot);
      s_prev[i * heads + h] = ap * (d_p - dot);  // 0 without a predecessor (ap = 0)
    }
  }
  std::fill(datt, datt + heads * ch, 0.0f);
  // Pass 2: node i receives its own terms and, as the predecessor of i + 1, that node's.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = has_pred[i] ? i - 1 : i;
    const int64_t k = i + 1 < n ? i + 1 : i;
    const float nxt = (i + 1 < n && has_pred[k]) ? 1.0f : 0.0f;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t ih = (i * heads + h) * ch, jh = (j * heads + h) * ch, kh = (k * heads + h) * ch;
      const RowScalars r{a_self[i * heads + h], s_self[i * heads + h], s_prev[i * heads + h],
                         a_prev[k * heads + h] * nxt, s_prev[k * heads + h] * nxt, slope};
      row_backward(xl + ih, xl + jh, xr + ih, xr + kh, g + ih, g + kh, att + h * ch, r, ch, dxl + ih, dxr + ih,
                   datt + h * ch);
    }
  }
}

}  // namespace autobuild
