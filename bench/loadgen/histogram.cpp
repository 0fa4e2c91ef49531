#include "histogram.hpp"

#include <bit>
#include <cmath>

namespace postern::bench {

std::size_t Histogram::bucket_of(std::uint64_t value) {
  if (value < 2 * sub_count) return static_cast<std::size_t>(value);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = msb - sub_bits;  // >= 1: value >> shift lies in [sub_count, 2 * sub_count)
  const std::uint64_t mantissa = value >> shift;
  return static_cast<std::size_t>(2 * sub_count + (shift - 1) * sub_count + (mantissa - sub_count));
}

std::uint64_t Histogram::midpoint_of(std::size_t bucket) {
  if (bucket < 2 * sub_count) return bucket;
  const std::uint64_t offset = bucket - 2 * sub_count;
  const unsigned shift = static_cast<unsigned>(offset / sub_count) + 1;
  const std::uint64_t low = (offset % sub_count + sub_count) << shift;
  return low + ((std::uint64_t{1} << shift) >> 1);
}

void Histogram::record(std::chrono::nanoseconds value) {
  const auto ns = value.count() < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(value.count());
  ++counts_[bucket_of(ns)];
  ++count_;
}

std::optional<double> Histogram::quantile_ms(double q) const {
  if (count_ == 0) return std::nullopt;
  // The rank of the sample at quantile q, counting from 1 (nearest rank).
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < counts_.size(); ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) return static_cast<double>(midpoint_of(bucket)) / 1e6;
  }
  return static_cast<double>(midpoint_of(counts_.size() - 1)) / 1e6;
}

}  // namespace postern::bench
