// Byte token bucket on the TSC clock, in exact integer arithmetic: tokens are kept in
// byte*cycle units (bytes scaled by the TSC rate), so there is no rounding drift. With
// the burst capped at 1 GiB and a TSC below 8 GHz every product fits in 63 bits.
#pragma once

#include <cstdint>

namespace dg {

class TokenBucket {
 public:
  TokenBucket() = default;

  // rate 0 = unlimited.
  void Configure(uint64_t rate_bits_per_second, uint64_t burst_bytes, uint64_t tsc_hz,
                 uint64_t now_tsc) {
    constexpr uint64_t kMaxBurstBytes = 1ULL << 30;
    if (burst_bytes > kMaxBurstBytes) burst_bytes = kMaxBurstBytes;
    rate_bytes_per_second_ = rate_bits_per_second / 8;
    tsc_hz_ = tsc_hz;
    capacity_scaled_ = static_cast<int64_t>(burst_bytes * tsc_hz);
    tokens_scaled_ = capacity_scaled_;
    last_tsc_ = now_tsc;
    // Beyond this many cycles the bucket is full anyway, even from the debt of the largest
    // frame (see CanSend); clamping keeps products small.
    constexpr uint64_t kLargestFrameDebtBytes = 256 * 1024 + 24;
    max_elapsed_cycles_ =
        rate_bytes_per_second_ == 0
            ? 0
            : (burst_bytes + kLargestFrameDebtBytes) * tsc_hz / rate_bytes_per_second_ + 1;
  }

  bool unlimited() const { return rate_bytes_per_second_ == 0; }

  void Refill(uint64_t now_tsc) {
    if (unlimited() || now_tsc <= last_tsc_) return;
    uint64_t elapsed = now_tsc - last_tsc_;
    last_tsc_ = now_tsc;
    if (elapsed > max_elapsed_cycles_) elapsed = max_elapsed_cycles_;
    tokens_scaled_ += static_cast<int64_t>(elapsed * rate_bytes_per_second_);
    if (tokens_scaled_ > capacity_scaled_) tokens_scaled_ = capacity_scaled_;
  }

  // A frame larger than the whole burst (a GSO/BIG TCP frame of up to 256 KiB) goes once
  // the bucket is full and leaves it in debt, so it keeps the rate instead of blocking
  // its queue for ever.
  bool CanSend(uint32_t bytes) const {
    return unlimited() ||
           tokens_scaled_ >= static_cast<int64_t>(bytes) * static_cast<int64_t>(tsc_hz_) ||
           tokens_scaled_ >= capacity_scaled_;
  }

  // Tokens for all of `bytes` now, without the full-bucket allowance of CanSend: for a
  // whole burst of frames, whose sum may exceed the bucket without any frame doing so.
  bool CoversAll(uint32_t bytes) const {
    return unlimited() ||
           tokens_scaled_ >= static_cast<int64_t>(bytes) * static_cast<int64_t>(tsc_hz_);
  }

  void Consume(uint32_t bytes) {
    if (!unlimited()) tokens_scaled_ -= static_cast<int64_t>(bytes) * static_cast<int64_t>(tsc_hz_);
  }

  uint64_t tokens_bytes() const {
    return unlimited() || tsc_hz_ == 0 || tokens_scaled_ <= 0  // in debt after a big frame
               ? 0
               : static_cast<uint64_t>(tokens_scaled_ / static_cast<int64_t>(tsc_hz_));
  }
  uint64_t rate_bits_per_second() const { return rate_bytes_per_second_ * 8; }

 private:
  uint64_t rate_bytes_per_second_ = 0;
  uint64_t tsc_hz_ = 0;
  int64_t capacity_scaled_ = 0;
  int64_t tokens_scaled_ = 0;
  uint64_t last_tsc_ = 0;
  uint64_t max_elapsed_cycles_ = 0;
};

}  // namespace dg
