// GATv2 attention on a batch of chains (the dense training path of autobuild.models.gatv2):
// node i attends to itself and, where has_pred[i], to node i - 1. Same arithmetic as the
// Numba twin (autobuild/core/numba_backend.py); see autobuild.core for the contract.
//
// The attention alone (gat_chain_forward / _backward) and the whole training layer after the
// linear maps (gat_chain_bn_forward / _backward: attention, batch normalisation with batch
// statistics, ReLU, residual) share one strided implementation: the layer reads x_l and x_r from
// the single matrix product [x_l | x_r] and writes their gradients into one matrix.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core.hpp"

namespace autobuild {

namespace {
// u > 0 ? a : b without a branch (random signs would mispredict half the time; a float compare
// stays a branch under -ftrapping-math) and without an int -> float conversion (cvtsi2ss has a
// false dependency that serialises the loop): integer masks on the bits. A positive non-NaN float
// is a positive int32, so +-0 and negatives select b, as torch's (leaky_)relu backward.
AUTOBUILD_INLINE float select_positive(float u, float a, float b) {
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
AUTOBUILD_INLINE float lrelu(float u, float slope) { return select_positive(u, u, u * slope); }
AUTOBUILD_INLINE float dlrelu(float u, float slope) { return select_positive(u, 1.0f, slope); }

struct RowScalars {
  float a_self, s_self, s_prev, a_next, s_next, slope;  // weights and logit gradients of the row
};

// One (node, head) row of pass 2 of the backward; restrict parameters let the loop vectorise.
AUTOBUILD_INLINE void row_backward(const float* __restrict li, const float* __restrict lj, const float* __restrict ri,
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

// The two attention logits of a row. The sums may be reordered into vector lanes (OpenMP SIMD
// reduction, compiled with -fopenmp-simd; as the Numba twin's fastmath sum): the results agree
// with a sequential sum to float rounding.
AUTOBUILD_INLINE void logits(const float* __restrict li, const float* __restrict lj, const float* __restrict ri,
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

// Strided layout: row i of x_l starts at xl + i * ld (head h at + h * ch), the same for x_r;
// out, a_prev, a_self are dense [n, heads, ch] / [n, heads].
AUTOBUILD_INLINE void attention_forward(const float* xl, const float* xr, int64_t ld, const float* att, const uint8_t* has_pred,
                              int64_t n, int64_t heads, int64_t ch, float slope, float* out, float* a_prev,
                              float* a_self) {
  for (int64_t i = 0; i < n; ++i) {
    const bool p = has_pred[i] != 0;
    const int64_t j = p ? i - 1 : i;  // without a predecessor, node i stands in with weight 0
    for (int64_t h = 0; h < heads; ++h) {
      const float* li = xl + i * ld + h * ch;
      const float* lj = xl + j * ld + h * ch;
      const float* ri = xr + i * ld + h * ch;
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
      float* __restrict o = out + (i * heads + h) * ch;
      for (int64_t c = 0; c < ch; ++c) o[c] = lj[c] * ap + li[c] * as;
    }
  }
}

// g dense [n, heads, ch]; dxl, dxr strided as xl, xr (row stride ld_out); s_self, s_prev scratch [n * heads].
AUTOBUILD_INLINE void attention_backward(const float* g, const float* xl, const float* xr, int64_t ld, const float* att,
                               const uint8_t* has_pred, int64_t n, int64_t heads, int64_t ch, float slope,
                               const float* a_prev, const float* a_self, float* dxl, float* dxr, int64_t ld_out,
                               float* datt, float* s_self, float* s_prev) {
  const int64_t hc = heads * ch;
  // Pass 1: d loss / d logit of every node and head (softmax backward).
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = has_pred[i] ? i - 1 : i;
    for (int64_t h = 0; h < heads; ++h) {
      const float* __restrict gi = g + i * hc + h * ch;
      const float* __restrict li = xl + i * ld + h * ch;
      const float* __restrict lj = xl + j * ld + h * ch;
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
  std::fill(datt, datt + hc, 0.0f);
  // Pass 2: node i receives its own terms and, as the predecessor of i + 1, that node's.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = has_pred[i] ? i - 1 : i;
    const int64_t k = i + 1 < n ? i + 1 : i;
    const float nxt = (i + 1 < n && has_pred[k]) ? 1.0f : 0.0f;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t o = h * ch;
      const RowScalars r{a_self[i * heads + h], s_self[i * heads + h], s_prev[i * heads + h],
                         a_prev[k * heads + h] * nxt, s_prev[k * heads + h] * nxt, slope};
      row_backward(xl + i * ld + o, xl + j * ld + o, xr + i * ld + o, xr + k * ld + o, g + i * hc + o,
                   g + k * hc + o, att + o, r, ch, dxl + i * ld_out + o, dxr + i * ld_out + o, datt + o);
    }
  }
}
}  // namespace

AUTOBUILD_CLONES
void gat_chain_forward(const float* xl, const float* xr, const float* att, const uint8_t* has_pred, int64_t n,
                       int64_t heads, int64_t ch, float slope, float* out, float* a_prev, float* a_self) {
  attention_forward(xl, xr, heads * ch, att, has_pred, n, heads, ch, slope, out, a_prev, a_self);
}

AUTOBUILD_CLONES
void gat_chain_backward(const float* g, const float* xl, const float* xr, const float* att, const uint8_t* has_pred,
                        int64_t n, int64_t heads, int64_t ch, float slope, const float* a_prev, const float* a_self,
                        float* dxl, float* dxr, float* datt) {
  std::vector<float> s_self(static_cast<size_t>(n * heads)), s_prev(static_cast<size_t>(n * heads));
  attention_backward(g, xl, xr, heads * ch, att, has_pred, n, heads, ch, slope, a_prev, a_self, dxl, dxr, heads * ch,
                     datt, s_self.data(), s_prev.data());
}

AUTOBUILD_CLONES
void gat_chain_bn_forward(const float* xlr, const float* att, const uint8_t* has_pred, int64_t n, int64_t heads,
                          int64_t ch, float slope, const float* gamma, const float* beta, float eps,
                          const float* residual, float* out, float* a_prev, float* a_self, float* xhat, float* mean,
                          float* invstd, float* var_unbiased) {
  const int64_t hc = heads * ch;
  // Attention into xhat (normalised in place below).
  attention_forward(xlr, xlr + hc, 2 * hc, att, has_pred, n, heads, ch, slope, xhat, a_prev, a_self);
  // Batch statistics per channel, two passes in double (mean, then centred squares).
  std::vector<double> acc(static_cast<size_t>(hc), 0.0);
  double* __restrict s = acc.data();
  for (int64_t i = 0; i < n; ++i) {
    const float* __restrict x = xhat + i * hc;
    for (int64_t c = 0; c < hc; ++c) s[c] += x[c];
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  for (int64_t c = 0; c < hc; ++c) {
    mean[c] = static_cast<float>(s[c] * inv_n);
    s[c] = 0.0;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* __restrict x = xhat + i * hc;
    for (int64_t c = 0; c < hc; ++c) {
      const double d = static_cast<double>(x[c]) - static_cast<double>(mean[c]);
      s[c] += d * d;
    }
  }
  for (int64_t c = 0; c < hc; ++c) {
    const double var = s[c] * inv_n;
    invstd[c] = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    var_unbiased[c] = static_cast<float>(n > 1 ? s[c] / static_cast<double>(n - 1) : var);
  }
  // xhat = (x - mean) * invstd; out = relu(gamma * xhat + beta) (+ residual).
  const float* __restrict m = mean;
  const float* __restrict sc = invstd;
  for (int64_t i = 0; i < n; ++i) {
    float* __restrict x = xhat + i * hc;
    float* __restrict o = out + i * hc;
    for (int64_t c = 0; c < hc; ++c) {
      const float xh = (x[c] - m[c]) * sc[c];
      x[c] = xh;
      const float y = gamma[c] * xh + beta[c];
      o[c] = select_positive(y, y, 0.0f);
    }
    if (residual) {
      const float* __restrict r = residual + i * hc;
      for (int64_t c = 0; c < hc; ++c) o[c] += r[c];
    }
  }
}

AUTOBUILD_CLONES
void gat_chain_bn_backward(const float* grad, const float* xlr, const float* att, const uint8_t* has_pred, int64_t n,
                           int64_t heads, int64_t ch, float slope, const float* a_prev, const float* a_self,
                           const float* xhat, const float* invstd, const float* gamma, const float* beta, float* dxlr,
                           float* datt, float* dgamma, float* dbeta) {
  const int64_t hc = heads * ch;
  // ReLU and batch-norm backward: dy = grad where gamma * xhat + beta > 0; sums in double.
  // (Scratch left uninitialised: every element is written before it is read.)
  std::unique_ptr<float[]> dy(new float[static_cast<size_t>(n * hc)]);
  std::vector<double> sg(static_cast<size_t>(hc), 0.0), sb(static_cast<size_t>(hc), 0.0);
  double* __restrict sgp = sg.data();
  double* __restrict sbp = sb.data();
  for (int64_t i = 0; i < n; ++i) {
    const float* __restrict g = grad + i * hc;
    const float* __restrict x = xhat + i * hc;
    float* __restrict d = dy.get() + i * hc;
    for (int64_t c = 0; c < hc; ++c) {
      const float y = gamma[c] * x[c] + beta[c];
      const float v = select_positive(y, g[c], 0.0f);
      d[c] = v;
      sbp[c] += v;
      sgp[c] += static_cast<double>(v) * static_cast<double>(x[c]);
    }
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  std::vector<float> mean_dy(static_cast<size_t>(hc)), mean_dyx(static_cast<size_t>(hc)), k(static_cast<size_t>(hc));
  for (int64_t c = 0; c < hc; ++c) {
    dgamma[c] = static_cast<float>(sgp[c]);
    dbeta[c] = static_cast<float>(sbp[c]);
    mean_dy[static_cast<size_t>(c)] = static_cast<float>(sbp[c] * inv_n);
    mean_dyx[static_cast<size_t>(c)] = static_cast<float>(sgp[c] * inv_n);
    k[static_cast<size_t>(c)] = gamma[c] * invstd[c];
  }
  // d attention output = (dy - mean(dy) - xhat * mean(dy * xhat)) * gamma * invstd, in place.
  const float* __restrict md = mean_dy.data();
  const float* __restrict mx = mean_dyx.data();
  const float* __restrict kk = k.data();
  for (int64_t i = 0; i < n; ++i) {
    float* __restrict d = dy.get() + i * hc;
    const float* __restrict x = xhat + i * hc;
    for (int64_t c = 0; c < hc; ++c) d[c] = (d[c] - md[c] - x[c] * mx[c]) * kk[c];
  }
  std::unique_ptr<float[]> s_self(new float[static_cast<size_t>(n * heads)]),
      s_prev(new float[static_cast<size_t>(n * heads)]);
  attention_backward(dy.get(), xlr, xlr + hc, 2 * hc, att, has_pred, n, heads, ch, slope, a_prev, a_self, dxlr,
                     dxlr + hc, 2 * hc, datt, s_self.get(), s_prev.get());
}

}  // namespace autobuild
