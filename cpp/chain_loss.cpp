// The predictor's training loss (paper Eq. 4, the authors' hop term) on a batch of chains and its
// gradient, in one call: the FE-MLP gather h^0 = |table[idx]|, every hop
// h^{m+1} = ReLU(BN(GATv2(h^m))) (+ h^m for m >= 1) with batch statistics, the graph norms
// ||h_G^m||_1 (Eq. 2: means of the node norms), the head Linear -> ReLU -> Linear on the mean of
// the last hop, MSE + w * mean over hops (1 - Pearson(soft rank ||h_G^m||_1, y)), then the
// reverse pass. Same arithmetic as autobuild.models.chain_encoder's composed path (the hop kernels
// of gat_chain.cpp, soft_rank_pearson of soft_rank.cpp); the matrix products are matmul.cpp's.
#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "core.hpp"

namespace autobuild {

namespace {

// Scratch kept between calls: a training run makes thousands of calls of about the same size, and
// fresh allocations of a few MB would fault their pages in every time. Slot k is the k-th buffer a
// call takes (a deque: taking a new slot leaves the earlier ones where they are).
struct Scratch {
  std::deque<std::vector<float>> slots;
  size_t next = 0;
  float* take(int64_t count) {
    if (next == slots.size()) slots.emplace_back();
    std::vector<float>& v = slots[next++];
    if (v.size() < static_cast<size_t>(count)) v.resize(static_cast<size_t>(count));
    return v.data();
  }
};

inline float sgn(float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); }

void transpose(const float* a, int64_t rows, int64_t cols, float* out) {  // out [cols, rows]
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = a[r * cols + c];
}

}  // namespace

int64_t chain_param_size(int64_t j, int64_t f, int64_t layers, int64_t hc, int64_t d) {
  if (j < 4 * layers) return j % 4 == 0 ? 2 * hc * (j < 4 ? f : hc) : hc;
  const int64_t k = j - 4 * layers;
  return k == 0 ? d * hc : (k == 3 ? 1 : d);
}

AUTOBUILD_CLONES
double chain_loss_grad(const float* table, int64_t n_table, const int64_t* idx, int64_t n, int64_t f,
                       const uint8_t* has_pred, const int64_t* batch, const float* denom, int64_t b, const float* y,
                       const float* params, const int64_t* offsets, int64_t layers, int64_t heads, int64_t ch,
                       int64_t d, float slope, float eps, float scale, double rank_weight, double strength,
                       float* grad, float* d_table, float* bn_mean, float* bn_var) {
  const int64_t hc = heads * ch, hops = layers + 1;
  auto width = [&](int64_t m) { return m == 0 ? f : hc; };
  thread_local Scratch s;
  s.next = 0;

  std::vector<float*> h(static_cast<size_t>(hops)), xlr(static_cast<size_t>(layers)), xhat(xlr.size()),
      a_prev(xlr.size()), a_self(xlr.size()), invstd(xlr.size());
  std::vector<const float*> w(xlr.size()), att(xlr.size()), gamma(xlr.size()), beta(xlr.size());
  for (int64_t m = 0; m < layers; ++m) {
    w[m] = params + offsets[4 * m];  // W_l then W_r: [2HC, K]
    att[m] = params + offsets[4 * m + 1];
    gamma[m] = params + offsets[4 * m + 2];
    beta[m] = params + offsets[4 * m + 3];
  }
  const int64_t* head = offsets + 4 * layers;

  // Forward: h^0 = |table[idx]|, then the hops.
  h[0] = s.take(n * f);
  for (int64_t i = 0; i < n * f; ++i) h[0][i] = std::fabs(table[idx[i]]);
  for (int64_t m = 0; m < layers; ++m) {
    const int64_t k = width(m);
    float* wt = s.take(2 * hc * k);
    transpose(w[m], 2 * hc, k, wt);  // [K, 2HC]
    xlr[m] = s.take(n * 2 * hc);
    gemm(h[m], k, 1, wt, n, k, 2 * hc, xlr[m]);  // [x_l | x_r] = h W^T
    h[m + 1] = s.take(n * hc);
    xhat[m] = s.take(n * hc);
    a_prev[m] = s.take(n * heads);
    a_self[m] = s.take(n * heads);
    invstd[m] = s.take(hc);
    gat_chain_bn_forward(xlr[m], att[m], has_pred, n, heads, ch, slope, gamma[m], beta[m], eps,
                         m > 0 ? h[m] : nullptr, h[m + 1], a_prev[m], a_self[m], xhat[m], bn_mean + m * hc,
                         invstd[m], bn_var + m * hc);
  }

  // Graph norms [M+1, B], the hop term's layout (embeddings are >= 0: L1 norm = sum), and the mean
  // of the last hop.
  std::vector<double> gn(static_cast<size_t>(hops * b), 0.0), pool(static_cast<size_t>(b * hc), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = batch[i];
    for (int64_t m = 0; m < hops; ++m) {
      const int64_t k = width(m);
      const float* row = h[m] + i * k;
      float sum = 0.0f;
      for (int64_t c = 0; c < k; ++c) sum += row[c];
      gn[static_cast<size_t>(m * b + g)] += sum;
    }
    const float* last = h[layers] + i * hc;
    double* p = pool.data() + g * hc;
    for (int64_t c = 0; c < hc; ++c) p[c] += last[c];
  }
  float* pooled = s.take(b * hc);
  for (int64_t g = 0; g < b; ++g) {
    for (int64_t m = 0; m < hops; ++m) gn[static_cast<size_t>(m * b + g)] /= denom[g];
    for (int64_t c = 0; c < hc; ++c) pooled[g * hc + c] = static_cast<float>(pool[static_cast<size_t>(g * hc + c)] / denom[g]);
  }

  // Head: z = pooled w1^T + b1, a = relu(z), pred = a w2^T + b2; MSE and its gradient.
  const float *w1 = params + head[0], *b1 = params + head[1], *w2 = params + head[2], *b2 = params + head[3];
  float *dw1 = grad + head[0], *db1 = grad + head[1], *dw2 = grad + head[2], *db2 = grad + head[3];
  float* w1t = s.take(d * hc);
  transpose(w1, d, hc, w1t);  // [HC, D]
  float* z = s.take(b * d);
  float* a = s.take(b * d);
  float* dz = s.take(b * d);
  gemm(pooled, hc, 1, w1t, b, hc, d, z);
  double mse = 0.0;
  std::vector<float> d_pred(static_cast<size_t>(b));
  for (int64_t g = 0; g < b; ++g) {
    float pred = 0.0f;
    for (int64_t j = 0; j < d; ++j) {
      z[g * d + j] += b1[j];
      a[g * d + j] = z[g * d + j] > 0.0f ? z[g * d + j] : 0.0f;
      pred += a[g * d + j] * w2[j];
    }
    const float r = pred + b2[0] - y[g];
    mse += static_cast<double>(r) * r;
    d_pred[static_cast<size_t>(g)] = r * (2.0f / static_cast<float>(b));
  }
  double loss = mse / static_cast<double>(b);
  db2[0] = 0.0f;
  std::fill(dw2, dw2 + d, 0.0f);
  std::fill(db1, db1 + d, 0.0f);
  for (int64_t g = 0; g < b; ++g) {
    const float dp = d_pred[static_cast<size_t>(g)];
    db2[0] += dp;
    for (int64_t j = 0; j < d; ++j) {
      dw2[j] += dp * a[g * d + j];
      const float v = z[g * d + j] > 0.0f ? dp * w2[j] : 0.0f;
      dz[g * d + j] = v;
      db1[j] += v;
    }
  }
  gemm(dz, 1, d, pooled, d, b, hc, dw1);  // d w1 = dz^T pooled [D, HC]
  float* d_pooled = s.take(b * hc);
  gemm(dz, d, 1, w1, b, d, hc, d_pooled);  // [B, HC]

  // The hop term: Pearson correlation of the soft ranks of every hop's graph norms with y.
  std::vector<double> d_norms(static_cast<size_t>(hops * b), 0.0);  // [M+1, B]
  if (rank_weight != 0.0) {
    std::vector<double> target(y, y + b), corr(static_cast<size_t>(hops));
    soft_rank_pearson(gn.data(), target.data(), hops, b, strength, corr.data(), d_norms.data());
    double term = 0.0;
    for (int64_t m = 0; m < hops; ++m) term += 1.0 - corr[static_cast<size_t>(m)];
    loss += rank_weight * term / static_cast<double>(hops);
    for (double& v : d_norms) v *= -rank_weight / static_cast<double>(hops);
  }

  // Backward. Per node, d graph norm^m / d node = 1 / nodes of its graph, for every channel.
  float* per_node = s.take(n * hops);
  float* dh = s.take(n * hc);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = batch[i];
    for (int64_t m = 0; m < hops; ++m)
      per_node[i * hops + m] = static_cast<float>(d_norms[static_cast<size_t>(m * b + g)]) / denom[g];
    const float* dp = d_pooled + g * hc;
    for (int64_t c = 0; c < hc; ++c) dh[i * hc + c] = dp[c] / denom[g] + per_node[i * hops + layers];
  }
  float* dxlr = s.take(n * 2 * hc);
  float* din = s.take(n * std::max(f, hc));
  float* dwt = s.take(2 * hc * std::max(f, hc));
  for (int64_t m = layers - 1; m >= 0; --m) {
    const int64_t k = width(m);
    float* g = grad + offsets[4 * m];
    gat_chain_bn_backward(dh, xlr[m], att[m], has_pred, n, heads, ch, slope, a_prev[m], a_self[m], xhat[m],
                          invstd[m], gamma[m], beta[m], dxlr, grad + offsets[4 * m + 1], grad + offsets[4 * m + 2],
                          grad + offsets[4 * m + 3]);
    if (k % 8 == 0) {
      gemm(dxlr, 1, 2 * hc, h[m], 2 * hc, n, k, g);  // d W = dxlr^T h [2HC, K]
    } else {  // narrow inputs (the feature scalars of hop 1): h^T dxlr [K, 2HC], then transposed
      gemm(h[m], 1, k, dxlr, k, n, 2 * hc, dwt);
      transpose(dwt, k, 2 * hc, g);
    }
    gemm(dxlr, 2 * hc, 1, w[m], n, 2 * hc, k, din);  // d h^m = dxlr W [N, K]
    if (m > 0) {  // the residual's gradient, and the node norms' of this hop
      for (int64_t i = 0; i < n; ++i) {
        const float pn = per_node[i * hops + m];
        for (int64_t c = 0; c < hc; ++c) dh[i * hc + c] += din[i * hc + c] + pn;
      }
    } else {  // h^0 reaches the hops through the FE-MLP gradient scale (predictor.embed)
      std::fill(d_table, d_table + n_table, 0.0f);
      for (int64_t i = 0; i < n; ++i) {
        const float pn = per_node[i * hops];
        for (int64_t c = 0; c < f; ++c) {
          const int64_t t = idx[i * f + c];
          d_table[t] += (din[i * f + c] * scale + pn) * sgn(table[t]);
        }
      }
    }
  }
  return loss;
}

}  // namespace autobuild
