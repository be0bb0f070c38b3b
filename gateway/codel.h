// CoDel (RFC 8289) for one queue, as a decision per packet leaving it. Pure: no DPDK, and
// time is whatever clock the caller counts in (the scheduler: TSC cycles), so unit tests
// inject it.
//
// RFC 8289's dequeue() may drop several packets and dequeue the next in one call; here
// the caller hands over one head packet at a time and this object remembers where in that
// procedure it stands, so the sequence of verdicts is the RFC's. ECN follows Linux's
// codel_impl.h: a CE mark replaces a drop, and the marked packet is the one sent.
#pragma once

#include <cmath>
#include <cstdint>

namespace dg {

struct CodelParams {
  uint64_t target = 0;    // acceptable standing queue delay, in clock ticks
  uint64_t interval = 0;  // how long the delay may stay above target before a drop
  // A backlog of at most one full-size frame is never dropped from (RFC 8289 MAXPACKET):
  // such a queue cannot be shortened, and dropping would only idle the link.
  uint64_t max_packet_bytes = 1538;
};

enum class CodelVerdict : uint8_t {
  kForward,  // send it
  kMarked,   // send it; it now carries CE
  kDrop,     // free it; the next head packet follows in the same dequeue
};

class CodelQueueState {
 public:
  // The head packet leaves the queue at `now` after waiting `sojourn`; `backlog_bytes` stay
  // queued behind it. `try_mark()` is called only when a congestion signal is due: it sets
  // CE on an ECN-capable packet and returns true, else false (the packet is dropped); a
  // caller that exempts a packet from drops returns true too (sent, the signal counted).
  template <typename TryMark>
  CodelVerdict OnDequeue(uint64_t now, uint64_t sojourn, uint64_t backlog_bytes,
                         const CodelParams& params, TryMark&& try_mark) {
    const bool ok_to_drop = OkToDrop(now, sojourn, backlog_bytes, params);
    switch (after_drop_) {
      case AfterDrop::kNothing:
        break;
      case AfterDrop::kSendNext:
        // RFC: the packet dequeued after the drop that entered the dropping state is sent.
        after_drop_ = AfterDrop::kNothing;
        return CodelVerdict::kForward;
      case AfterDrop::kStayOrLeave:
        // RFC's drop loop: the packet after a drop decides whether dropping continues.
        after_drop_ = AfterDrop::kNothing;
        if (!ok_to_drop) {
          dropping_ = false;
          return CodelVerdict::kForward;
        }
        drop_next_ = ControlLaw(drop_next_, params);
        break;
    }
    if (dropping_) {
      if (!ok_to_drop) {
        dropping_ = false;
        return CodelVerdict::kForward;
      }
      if (static_cast<int64_t>(now - drop_next_) < 0) return CodelVerdict::kForward;
      ++count_;
      if (try_mark()) {
        drop_next_ = ControlLaw(drop_next_, params);
        return CodelVerdict::kMarked;
      }
      after_drop_ = AfterDrop::kStayOrLeave;
      return CodelVerdict::kDrop;
    }
    if (!ok_to_drop) return CodelVerdict::kForward;

    // Entering the dropping state. If it was left only recently, resume near the drop rate
    // that controlled the queue then instead of starting over at one drop per interval.
    dropping_ = true;
    const uint32_t delta = count_ - last_count_;
    const bool recently_dropping =
        static_cast<int64_t>(now - drop_next_) < static_cast<int64_t>(16 * params.interval);
    count_ = delta > 1 && recently_dropping ? delta : 1;
    drop_next_ = ControlLaw(now, params);
    last_count_ = count_;
    if (try_mark()) return CodelVerdict::kMarked;
    after_drop_ = AfterDrop::kSendNext;
    return CodelVerdict::kDrop;
  }

  // The queue ran empty: RFC 8289 leaves the dropping state and forgets the time above
  // target (dodequeue() of an empty queue).
  void OnQueueEmpty() {
    first_above_time_ = 0;
    dropping_ = false;
    after_drop_ = AfterDrop::kNothing;
  }

  bool dropping() const { return dropping_; }
  uint32_t count() const { return count_; }
  uint64_t drop_next() const { return drop_next_; }

 private:
  enum class AfterDrop : uint8_t { kNothing, kSendNext, kStayOrLeave };

  // RFC 8289 dodequeue(): true once the sojourn time has stayed at or above target for a
  // whole interval.
  bool OkToDrop(uint64_t now, uint64_t sojourn, uint64_t backlog_bytes, const CodelParams& params) {
    if (sojourn < params.target || backlog_bytes <= params.max_packet_bytes) {
      first_above_time_ = 0;
      return false;
    }
    if (first_above_time_ == 0) {
      first_above_time_ = now + params.interval;
      return false;
    }
    return static_cast<int64_t>(now - first_above_time_) >= 0;
  }

  // interval / sqrt(count) after t: the drop rate grows with the square root of the drops,
  // which gives TCP's window a linear decrease in rate (RFC 8289 section 5.5). Only called
  // when a packet is dropped or marked, so the square root costs nothing per packet.
  uint64_t ControlLaw(uint64_t t, const CodelParams& params) const {
    return t + static_cast<uint64_t>(static_cast<double>(params.interval) /
                                     std::sqrt(static_cast<double>(count_)));
  }

  uint64_t first_above_time_ = 0;
  uint64_t drop_next_ = 0;
  uint32_t count_ = 0;
  uint32_t last_count_ = 0;
  bool dropping_ = false;
  AfterDrop after_drop_ = AfterDrop::kNothing;
};

}  // namespace dg
