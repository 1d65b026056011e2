// Evolutionary search (paper Sec. 5.2, 7.5): dedup hashes, Pareto ranks, 2-D hypervolume and the
// mutation operators of Stage-Full / AutoBuild-NAS (swap one stage subgraph) and Layer-Full /
// Layer-Insight (add, remove or edit one layer).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace autobuild {

namespace {

// splitmix64 (Steele, Lea, Flood 2014); the Numba twin is written identically.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, n), n >= 1: next() % n.
  int64_t uniform(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

constexpr int kMaxRedraws = 64;

}  // namespace

void hash_codes(const int32_t* codes, int64_t n, int64_t code_len, uint64_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 0xCBF29CE484222325ULL;
    const int32_t* row = codes + i * code_len;
    for (int64_t j = 0; j < code_len; ++j) {
      const uint32_t u = static_cast<uint32_t>(row[j]);
      for (int b = 0; b < 4; ++b) {
        h ^= (u >> (8 * b)) & 0xFFu;
        h *= 0x100000001B3ULL;
      }
    }
    out[i] = h;
  }
}

namespace {

// 1 if p dominates q, -1 if q dominates p, 0 otherwise (minimisation).
int dominance(const double* p, const double* q, int64_t m) {
  bool p_better = false, q_better = false;
  for (int64_t k = 0; k < m; ++k) {
    if (p[k] < q[k]) p_better = true;
    else if (q[k] < p[k]) q_better = true;
  }
  if (p_better && !q_better) return 1;
  if (q_better && !p_better) return -1;
  return 0;
}

}  // namespace

void non_dominated_rank(const double* points, int64_t n, int64_t n_obj, int32_t* out) {
  for (int64_t i = 0; i < n * n_obj; ++i)
    if (std::isnan(points[i])) throw std::invalid_argument("non_dominated_rank: points contain NaN");
  // Pass 1: how many points dominate each point, and how many each point dominates.
  std::vector<int64_t> dominated_by(static_cast<size_t>(n), 0), start(static_cast<size_t>(n + 1), 0);
  for (int64_t p = 0; p < n; ++p)
    for (int64_t q = p + 1; q < n; ++q) {
      const int d = dominance(points + p * n_obj, points + q * n_obj, n_obj);
      if (d == 1) {
        ++start[p + 1];
        ++dominated_by[q];
      } else if (d == -1) {
        ++start[q + 1];
        ++dominated_by[p];
      }
    }
  for (int64_t p = 0; p < n; ++p) start[p + 1] += start[p];
  // Pass 2: the sets S_p of points dominated by p (CSR).
  std::vector<int64_t> fill(start.begin(), start.end() - 1), dominated(static_cast<size_t>(start[n]));
  for (int64_t p = 0; p < n; ++p)
    for (int64_t q = p + 1; q < n; ++q) {
      const int d = dominance(points + p * n_obj, points + q * n_obj, n_obj);
      if (d == 1) dominated[fill[p]++] = q;
      else if (d == -1) dominated[fill[q]++] = p;
    }
  // Peel the fronts.
  std::vector<int64_t> front, next;
  for (int64_t p = 0; p < n; ++p)
    if (dominated_by[p] == 0) front.push_back(p);
  int32_t rank = 0;
  while (!front.empty()) {
    next.clear();
    for (int64_t p : front) {
      out[p] = rank;
      for (int64_t k = start[p]; k < start[p + 1]; ++k)
        if (--dominated_by[dominated[k]] == 0) next.push_back(dominated[k]);
    }
    front.swap(next);
    ++rank;
  }
}

double hypervolume_2d(const double* points, int64_t n, const double* ref) {
  if (std::isnan(ref[0]) || std::isnan(ref[1])) throw std::invalid_argument("hypervolume_2d: NaN in points or ref");
  for (int64_t i = 0; i < 2 * n; ++i)
    if (std::isnan(points[i])) throw std::invalid_argument("hypervolume_2d: NaN in points or ref");
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i)
    if (points[2 * i] < ref[0] && points[2 * i + 1] < ref[1]) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [points](int64_t a, int64_t b) {
    const double* p = points + 2 * a;
    const double* q = points + 2 * b;
    return p[0] < q[0] || (p[0] == q[0] && p[1] < q[1]);
  });
  // Sweep by increasing first objective: each point that lowers the best second objective so far
  // adds the rectangle [x, ref0] x [y, best_y].
  double hv = 0.0, best_y = ref[1];
  for (int64_t i : idx) {
    const double x = points[2 * i], y = points[2 * i + 1];
    if (y < best_y) {
      hv += (ref[0] - x) * (best_y - y);
      best_y = y;
    }
  }
  return hv;
}

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("mutate: " + what); }

struct Layout {
  int32_t S = 0, C = 0, G = 0, V = 0, n_groups = 0;
  int64_t L = 0, n_slots = 0;
  std::vector<int64_t> offset;           // first slot column of stage s
  std::vector<int32_t> n_allowed;        // allowed layer choices per stage
  std::vector<int32_t> allowed_list;     // [S, C]: the allowed choices of stage s, ascending
  std::vector<int32_t> n_gallowed;       // allowed values per global
  std::vector<int32_t> g_first, g_end;   // stage range of each group
  std::vector<int32_t> g_min, g_max;     // depth bounds of each group
  std::vector<int32_t> g_var;            // the group's variable-depth stage, or -1
};

// Per-stage depths of a module of `depth` layers of group g (the rule of MacroSpace.stage_depths).
inline int32_t stage_share(const Layout& lay, const MutationSpace& sp, int32_t g, int32_t s, int32_t depth) {
  if (s != lay.g_var[g]) return sp.min_depth[s];
  return depth - (lay.g_min[g] - sp.min_depth[s]);
}

// Does the group-g region of code a differ from that of code b?
bool group_differs(const Layout& lay, int32_t g, const int32_t* a, const int32_t* b) {
  for (int32_t s = lay.g_first[g]; s < lay.g_end[g]; ++s) {
    if (a[s] != b[s]) return true;
    const int64_t o = lay.S + lay.offset[s];
    for (int32_t j = 0; j < a[s]; ++j)
      if (a[o + j] != b[o + j]) return true;
  }
  return false;
}

// Does table row r differ from the group-g module of code c?
bool row_differs(const Layout& lay, const MutationSpace& sp, int32_t g, int64_t r, const int32_t* c) {
  const int32_t d = sp.table_depths[r];
  const int32_t* row = sp.table_choices + r * sp.table_width;
  int32_t pos = 0;
  for (int32_t s = lay.g_first[g]; s < lay.g_end[g]; ++s) {
    const int32_t ds = stage_share(lay, sp, g, s, d);
    if (ds != c[s]) return true;
    const int64_t o = lay.S + lay.offset[s];
    for (int32_t j = 0; j < ds; ++j, ++pos)
      if (row[pos] != c[o + j]) return true;
  }
  return false;
}

void write_row(const Layout& lay, const MutationSpace& sp, int32_t g, int64_t r, int32_t* c) {
  const int32_t d = sp.table_depths[r];
  const int32_t* row = sp.table_choices + r * sp.table_width;
  int32_t pos = 0;
  for (int32_t s = lay.g_first[g]; s < lay.g_end[g]; ++s) {
    const int32_t ds = stage_share(lay, sp, g, s, d);
    c[s] = ds;
    const int64_t o = lay.S + lay.offset[s];
    for (int32_t j = 0; j < ds; ++j, ++pos) c[o + j] = row[pos];
  }
}

// A different allowed value of global k, uniform (the caller made sure one exists).
void mutate_global(const Layout& lay, const MutationSpace& sp, int32_t k, int32_t* c, SplitMix64& rng) {
  const int64_t col = lay.S + lay.n_slots + k;
  const int32_t cur = c[col];
  const uint8_t* ok = sp.global_allowed + static_cast<int64_t>(k) * lay.V;
  int64_t m = 0;
  for (int32_t v = 0; v < lay.V; ++v) m += (ok[v] && v != cur);
  int64_t j = rng.uniform(m);
  for (int32_t v = 0; v < lay.V; ++v)
    if (ok[v] && v != cur && j-- == 0) {
      c[col] = v;
      return;
    }
}

// Number of possible layer operations of stage s for depth d, as a bit mask add=1, remove=2, edit=4.
inline int layer_ops(const Layout& lay, const MutationSpace& sp, int32_t s, int32_t d) {
  int ops = 0;
  if (d < sp.max_depth[s]) ops |= 1;
  if (d > sp.min_depth[s]) ops |= 2;
  if (d >= 1 && lay.n_allowed[s] >= 2) ops |= 4;
  return ops;
}

Layout check_space(const int32_t* parents, int64_t n_parents, int64_t code_len, int64_t n_children, int32_t kind,
                   const MutationSpace& sp) {
  Layout lay;
  lay.S = sp.n_stages;
  lay.C = sp.n_choices;
  lay.G = sp.n_globals;
  lay.V = sp.n_values;
  lay.L = code_len;
  const int32_t S = lay.S, C = lay.C;
  lay.n_slots = slot_offsets(sp.slot_width, S, lay.offset);
  if (code_len != S + lay.n_slots + lay.G) fail("code length does not match the space layout (pass slot_width when max_depth is lowered)");
  for (int32_t s = 0; s < S; ++s)
    if (sp.min_depth[s] < 0 || sp.max_depth[s] < sp.min_depth[s] || sp.slot_width[s] < sp.max_depth[s])
      fail("stage " + std::to_string(s) + ": need 0 <= min_depth <= max_depth <= slot width");
  lay.n_allowed.assign(static_cast<size_t>(S), 0);
  lay.allowed_list.assign(static_cast<size_t>(S) * C, -1);
  for (int32_t s = 0; s < S; ++s) {
    const uint8_t* ok = sp.allowed + static_cast<int64_t>(s) * C;
    int32_t* list = lay.allowed_list.data() + static_cast<int64_t>(s) * C;
    for (int32_t c = 0; c < C; ++c)
      if (ok[c]) list[lay.n_allowed[s]++] = c;
    if (lay.n_allowed[s] == 0) fail("stage " + std::to_string(s) + " allows no layer choice");
  }
  lay.n_gallowed.assign(static_cast<size_t>(lay.G), 0);
  for (int32_t k = 0; k < lay.G; ++k) {
    const uint8_t* ok = sp.global_allowed + static_cast<int64_t>(k) * lay.V;
    for (int32_t v = 0; v < lay.V; ++v) lay.n_gallowed[k] += ok[v] != 0;
    if (lay.n_gallowed[k] == 0) fail("global " + std::to_string(k) + " allows no value");
  }
  for (int32_t s = 0; s < S; ++s) {
    const int32_t prev = s == 0 ? -1 : sp.group_of[s - 1];
    if (sp.group_of[s] != prev && sp.group_of[s] != prev + 1)
      fail("group_of must number the groups 0, 1, ... in stage order");
  }
  lay.n_groups = S == 0 ? 0 : sp.group_of[S - 1] + 1;
  lay.g_first.assign(static_cast<size_t>(lay.n_groups), 0);
  lay.g_end.assign(static_cast<size_t>(lay.n_groups), 0);
  lay.g_min.assign(static_cast<size_t>(lay.n_groups), 0);
  lay.g_max.assign(static_cast<size_t>(lay.n_groups), 0);
  lay.g_var.assign(static_cast<size_t>(lay.n_groups), -1);
  for (int32_t s = S - 1; s >= 0; --s) lay.g_first[sp.group_of[s]] = s;
  for (int32_t s = 0; s < S; ++s) {
    const int32_t g = sp.group_of[s];
    lay.g_end[g] = s + 1;
    lay.g_min[g] += sp.min_depth[s];
    lay.g_max[g] += sp.max_depth[s];
    if (sp.min_depth[s] != sp.max_depth[s]) {
      if (lay.g_var[g] >= 0) fail("group " + std::to_string(g) + " has more than one stage of variable depth");
      lay.g_var[g] = s;
    }
  }
  if (n_children > 0 && n_parents == 0) fail("no parents to mutate");
  for (int64_t i = 0; i < n_parents; ++i) {
    const int32_t* c = parents + i * code_len;
    for (int32_t s = 0; s < S; ++s)
      if (c[s] < 0 || c[s] > sp.slot_width[s]) fail("parent " + std::to_string(i) + ": stage depth out of range");
    for (int32_t s = 0; s < S; ++s)
      for (int32_t j = 0; j < c[s]; ++j) {
        const int32_t ch = c[S + lay.offset[s] + j];
        if (ch < 0 || ch >= C) fail("parent " + std::to_string(i) + ": layer choice out of range");
      }
    for (int32_t k = 0; k < lay.G; ++k) {
      const int32_t v = c[S + lay.n_slots + k];
      if (v < 0 || v >= lay.V) fail("parent " + std::to_string(i) + ": global index out of range");
    }
  }
  if (kind == kStageTable) {
    if (sp.n_offsets != lay.n_groups + 1) fail("table_offsets must have one entry per group plus one");
    bool rising = sp.table_offsets[0] == 0 && sp.table_offsets[lay.n_groups] == sp.table_rows;
    for (int32_t g = 0; g < lay.n_groups; ++g) rising = rising && sp.table_offsets[g] <= sp.table_offsets[g + 1];
    if (!rising) fail("table_offsets must rise from 0 to the number of table rows");
    for (int32_t g = 0; g < lay.n_groups; ++g)
      if (sp.table_offsets[g] == sp.table_offsets[g + 1])
        fail("group " + std::to_string(g) + " has an empty module table");
    for (int32_t g = 0; g < lay.n_groups; ++g)
      for (int64_t r = sp.table_offsets[g]; r < sp.table_offsets[g + 1]; ++r) {
        const int32_t d = sp.table_depths[r];
        if (d < lay.g_min[g] || d > lay.g_max[g] || d > sp.table_width)
          fail("table row " + std::to_string(r) + ": depth out of the group's range");
        for (int32_t j = 0; j < d; ++j) {
          const int32_t ch = sp.table_choices[r * sp.table_width + j];
          if (ch < 0 || ch >= C) fail("table row " + std::to_string(r) + ": layer choice out of range");
        }
      }
  }
  if (n_children > 0) {
    if (kind == kLayer) {
      bool globals = false;
      for (int32_t k = 0; k < lay.G; ++k) globals = globals || lay.n_gallowed[k] >= 2;
      for (int64_t i = 0; i < n_parents && !globals; ++i) {
        const int32_t* c = parents + i * code_len;
        bool any = false;
        for (int32_t s = 0; s < S && !any; ++s) any = layer_ops(lay, sp, s, c[s]) != 0;
        if (!any) fail("parent " + std::to_string(i) + " has no possible mutation");
      }
    }
  }
  return lay;
}

// Can group g take two or more different modules (kind 0)?
bool group_mutable(const Layout& lay, const MutationSpace& sp, int32_t g) {
  if (lay.g_min[g] < lay.g_max[g]) return true;
  for (int32_t s = lay.g_first[g]; s < lay.g_end[g]; ++s)
    if (sp.min_depth[s] > 0 && lay.n_allowed[s] >= 2) return true;
  return false;
}

}  // namespace

std::vector<int32_t> mutate(const int32_t* parents, int64_t n_parents, int64_t code_len, int64_t n_children,
                            uint64_t seed, int32_t kind, const MutationSpace& sp) {
  const Layout lay = check_space(parents, n_parents, code_len, n_children, kind, sp);
  const int32_t S = lay.S, C = lay.C;
  const int64_t L = code_len;
  // Mutation targets of kinds 0 and 1: groups g (as g), then globals k (as n_groups + k).
  std::vector<int32_t> targets;
  if (kind != kLayer) {
    for (int32_t g = 0; g < lay.n_groups; ++g) {
      const bool ok =
          kind == kStageFull ? group_mutable(lay, sp, g) : sp.table_offsets[g + 1] - sp.table_offsets[g] >= 2;
      if (ok) targets.push_back(g);
    }
    for (int32_t k = 0; k < lay.G; ++k)
      if (lay.n_gallowed[k] >= 2) targets.push_back(lay.n_groups + k);
    if (n_children > 0 && targets.empty()) fail("nothing to mutate: no group or global has two or more options");
  }
  std::vector<int32_t> out(static_cast<size_t>(n_children * L));
  std::vector<int32_t> tmp(static_cast<size_t>(L)), ops_of(static_cast<size_t>(S + lay.G));
  SplitMix64 rng{seed};
  for (int64_t i = 0; i < n_children; ++i) {
    const int32_t* parent = parents + rng.uniform(n_parents) * L;
    int32_t* child = out.data() + i * L;
    std::copy(parent, parent + L, child);
    if (kind != kLayer) {
      const int32_t t = targets[rng.uniform(static_cast<int64_t>(targets.size()))];
      if (t >= lay.n_groups) {
        mutate_global(lay, sp, t - lay.n_groups, child, rng);
      } else if (kind == kStageFull) {
        const int32_t g = t;
        for (int attempt = 0; attempt < kMaxRedraws; ++attempt) {
          std::copy(parent, parent + L, tmp.data());
          const int32_t d = lay.g_min[g] + static_cast<int32_t>(rng.uniform(lay.g_max[g] - lay.g_min[g] + 1));
          for (int32_t s = lay.g_first[g]; s < lay.g_end[g]; ++s) {
            const int32_t ds = stage_share(lay, sp, g, s, d);
            tmp[s] = ds;
            const int64_t o = S + lay.offset[s];
            for (int32_t j = 0; j < ds; ++j)
              tmp[o + j] = lay.allowed_list[static_cast<int64_t>(s) * C + rng.uniform(lay.n_allowed[s])];
          }
          if (group_differs(lay, g, tmp.data(), parent)) break;
        }
        std::copy(tmp.begin(), tmp.end(), child);
      } else {
        const int32_t g = t;
        const int64_t lo = sp.table_offsets[g], hi = sp.table_offsets[g + 1];
        int64_t m = 0;
        for (int64_t r = lo; r < hi; ++r) m += row_differs(lay, sp, g, r, parent);
        int64_t pick = -1;
        if (m == 0) {
          pick = lo + rng.uniform(hi - lo);
        } else {
          int64_t j = rng.uniform(m);
          for (int64_t r = lo; r < hi && pick < 0; ++r)
            if (row_differs(lay, sp, g, r, parent) && j-- == 0) pick = r;
        }
        write_row(lay, sp, g, pick, child);
      }
    } else {
      // Targets: stages with a possible operation, then globals with >= 2 allowed values.
      int32_t n_t = 0;
      for (int32_t s = 0; s < S; ++s) {
        const int ops = layer_ops(lay, sp, s, child[s]);
        if (ops) ops_of[n_t++] = s;
      }
      for (int32_t k = 0; k < lay.G; ++k)
        if (lay.n_gallowed[k] >= 2) ops_of[n_t++] = S + k;
      const int32_t t = ops_of[rng.uniform(n_t)];
      if (t >= S) {
        mutate_global(lay, sp, t - S, child, rng);
      } else {
        const int32_t s = t, d = child[s];
        const int ops = layer_ops(lay, sp, s, d);
        int32_t op_list[3], n_ops = 0;
        for (int bit = 0; bit < 3; ++bit)
          if (ops & (1 << bit)) op_list[n_ops++] = bit;
        const int32_t op = op_list[rng.uniform(n_ops)];
        int32_t* slot = child + S + lay.offset[s];
        const int32_t* choices = lay.allowed_list.data() + static_cast<int64_t>(s) * C;
        if (op == 0) {  // add
          const int32_t pos = static_cast<int32_t>(rng.uniform(d + 1));
          const int32_t c = choices[rng.uniform(lay.n_allowed[s])];
          for (int32_t j = d; j > pos; --j) slot[j] = slot[j - 1];
          slot[pos] = c;
          child[s] = d + 1;
        } else if (op == 1) {  // remove
          const int32_t pos = static_cast<int32_t>(rng.uniform(d));
          for (int32_t j = pos; j < d - 1; ++j) slot[j] = slot[j + 1];
          child[s] = d - 1;
        } else {  // edit
          const int32_t pos = static_cast<int32_t>(rng.uniform(d));
          const int32_t cur = slot[pos];
          int64_t m = 0;
          for (int32_t a = 0; a < lay.n_allowed[s]; ++a) m += choices[a] != cur;
          int64_t j = rng.uniform(m);
          for (int32_t a = 0; a < lay.n_allowed[s]; ++a)
            if (choices[a] != cur && j-- == 0) {
              slot[pos] = choices[a];
              break;
            }
        }
      }
    }
    // Canonical padding.
    for (int32_t s = 0; s < S; ++s)
      for (int32_t j = child[s]; j < sp.slot_width[s]; ++j) child[S + lay.offset[s] + j] = -1;
  }
  return out;
}

}  // namespace autobuild
