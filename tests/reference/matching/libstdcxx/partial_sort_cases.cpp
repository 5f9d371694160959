// Writes partial_sort_cases.json: how libstdc++ (g++ 12, as MatchIt 4.7.2 is built on Debian 12)
// orders tied candidate distances in MatchIt's find_control_vec selection step.
// Build and run from this folder:  g++ -O2 -std=c++17 partial_sort_cases.cpp -o /tmp/ps && /tmp/ps > partial_sort_cases.json
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

static std::vector<int> select(const std::vector<double>& d, int ratio) {
  // the tail of MatchIt's find_control_vec (src/internal.cpp), on candidate distances d
  int n = d.size();
  std::vector<int> ind(n);
  std::iota(ind.begin(), ind.end(), 0);
  if (n <= 1) return ind;
  if (n <= ratio && std::is_sorted(d.begin(), d.end())) return ind;
  auto cmp = [&d](int a, int b) { return d[a] < d[b]; };
  if (n > ratio) {
    std::partial_sort(ind.begin(), ind.begin() + ratio, ind.end(), cmp);
    ind.resize(ratio);
  } else {
    std::sort(ind.begin(), ind.end(), cmp);
  }
  return ind;
}

int main() {
  std::mt19937 gen(20261204);
  std::printf("[");
  for (int c = 0; c < 400; c++) {
    int ratio = 1 + gen() % 8;
    int n = 1 + gen() % (2 * ratio);
    int levels = 1 + gen() % 4;  // few distinct values: many exact ties
    std::vector<double> d(n);
    for (auto& x : d) x = (gen() % levels) / 4.0;
    std::vector<int> out = select(d, ratio);
    std::printf("%s{\"ratio\":%d,\"d\":[", c ? "," : "", ratio);
    for (int i = 0; i < n; i++) std::printf("%s%g", i ? "," : "", d[i]);
    std::printf("],\"out\":[");
    for (size_t i = 0; i < out.size(); i++) std::printf("%s%d", i ? "," : "", out[i]);
    std::printf("]}");
  }
  std::printf("]\n");
}
