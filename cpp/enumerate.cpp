// Stage-subgraph enumeration (paper Sec. 7.2): |S_u| = sum_l |B_u|^l modules.
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace autobuild {

int64_t count_modules(int32_t min_depth, int32_t max_depth, int32_t n_choices) {
  if (min_depth < 0 || max_depth < min_depth)
    throw std::invalid_argument("enumerate_modules: need 0 <= min_depth <= max_depth");
  if (n_choices < 1) throw std::invalid_argument("enumerate_modules: need n_choices >= 1");
  int64_t total = 0;
  for (int32_t l = min_depth; l <= max_depth; ++l) {
    int64_t p = 1;
    for (int32_t i = 0; i < l; ++i) {
      if (p > (int64_t(1) << 40) / n_choices)
        throw std::invalid_argument("enumerate_modules: more than 2^40 modules");
      p *= n_choices;
    }
    total += p;
  }
  return total;
}

ModuleTable enumerate_modules(int32_t min_depth, int32_t max_depth, int32_t n_choices) {
  ModuleTable t;
  t.rows = count_modules(min_depth, max_depth, n_choices);
  t.width = max_depth;
  t.depths.assign(static_cast<size_t>(t.rows), 0);
  t.choices.assign(static_cast<size_t>(t.rows) * static_cast<size_t>(max_depth), -1);
  int64_t row = 0;
  std::vector<int32_t> digits;
  for (int32_t l = min_depth; l <= max_depth; ++l) {
    digits.assign(static_cast<size_t>(l), 0);
    while (true) {
      t.depths[row] = l;
      int32_t* out = t.choices.data() + row * max_depth;
      for (int32_t j = 0; j < l; ++j) out[j] = digits[j];
      ++row;
      // Odometer increment, last position fastest.
      int32_t j = l - 1;
      while (j >= 0 && ++digits[j] == n_choices) digits[j--] = 0;
      if (j < 0) break;
    }
  }
  return t;
}

}  // namespace autobuild
