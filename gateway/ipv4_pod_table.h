// IPv4 source address -> opaque 32-bit value, the pod table's IPv4 half.
//
// Why not rte_hash: at 1M entries an rte_hash lookup misses the last-level cache ~3 times
// (primary and secondary bucket, then the 32-byte key-store entry) because its key store
// holds 16-byte keys apart from the buckets. Here a slot is 8 bytes, {address, value},
// and a 64-byte bucket holds 8 of them inline: a lookup reads one cache line, which the
// burst prefetches for all its keys before comparing any (docs/performance.md,
// "Fast path and table at scale").
//
// Concurrency: one control-thread writer, lock-free worker readers. A slot is written
// as one 64-bit store, so a reader sees an address with its own value or not at all.
// Open addressing with linear probing over buckets; removal leaves a tombstone so probe
// chains stay intact; a slot never becomes empty again in place. When tombstones and
// entries fill 3/4 of the slots, the writer rebuilds into a fresh array, publishes it
// with one pointer store and frees the old one after an RCU (QSBR) grace period. The
// same rebuild grows the array with the entries (at most 2/3 load after it), so its size
// follows the pods actually present, not the configured capacity: 1M entries take 16 MiB.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "control/result.h"
#include "dscp_gateway_abi.h"

struct rte_rcu_qsbr;

namespace dg {

// ::ffff:a.b.c.d, the form IPv4 addresses take in a dg_pod_key.
inline bool Ipv4OfMappedKey(const dg_pod_key& key, uint32_t* address) {
  uint64_t head;
  uint32_t middle;
  std::memcpy(&head, key.addr, 8);
  std::memcpy(&middle, key.addr + 8, 4);
  std::memcpy(address, key.addr + 12, 4);
  constexpr uint8_t kMiddle[4] = {0, 0, 0xff, 0xff};
  uint32_t expected_middle;
  std::memcpy(&expected_middle, kMiddle, 4);
  return head == 0 && middle == expected_middle;
}

class Ipv4PodTable {
 public:
  static constexpr uint32_t kSlotsPerBucket = 8;  // 8 x 8 bytes: one cache line
  // Addresses as they sit in the packet (network byte order). These two can never be a
  // pod's source address, so they mark free and removed slots.
  static constexpr uint32_t kEmptyAddress = 0;             // 0.0.0.0
  static constexpr uint32_t kRemovedAddress = 0xffffffff;  // 255.255.255.255

  // `capacity` bounds how far the array may grow; `name` labels its memory.
  static Result<std::unique_ptr<Ipv4PodTable>> Create(const std::string& name, uint32_t capacity,
                                                      rte_rcu_qsbr* qsbr);
  ~Ipv4PodTable();
  Ipv4PodTable(const Ipv4PodTable&) = delete;
  Ipv4PodTable& operator=(const Ipv4PodTable&) = delete;

  // Worker side, in two steps so a burst can start every key's memory access before it
  // waits for the first: Locate hashes and prefetches, Find compares. `view` is read once
  // per burst and passed to both.
  struct View {
    const uint64_t* slots;
    uint32_t bucket_mask;
  };
  View Acquire() const {
    const Store* store = store_.load(std::memory_order_acquire);
    return View{store->slots, store->bucket_mask};
  }
  static uint32_t Locate(const View& view, uint32_t address);
  static bool Find(const View& view, uint32_t address, uint32_t bucket, uint32_t* value);

  // Control side (a single writer). Upsert fails for the two reserved addresses and when
  // no memory is left to grow into (the caller enforces the capacity).
  bool Upsert(uint32_t address, uint32_t value);
  bool Remove(uint32_t address);
  bool Contains(uint32_t address) const;
  uint32_t SlotCount() const { return store_.load(std::memory_order_relaxed)->slot_count; }

 private:
  struct Store {
    uint64_t* slots;  // bucket_count * kSlotsPerBucket, cache-line aligned
    uint32_t bucket_mask;
    uint32_t slot_count;
    uint32_t used = 0;  // entries + tombstones: slots that are no longer empty
  };
  Ipv4PodTable(std::string name, rte_rcu_qsbr* qsbr, Store* store)
      : name_(std::move(name)), qsbr_(qsbr), store_(store) {}
  static uint32_t SlotsFor(uint32_t entries);
  static Store* AllocateStore(const std::string& name, uint32_t slot_count);
  static void FreeStore(Store* store);
  // Position of `address`, or of the slot an insert would take (first tombstone or the
  // empty slot ending the chain); *found says which. -1 if the array has neither.
  static int64_t Probe(const Store& store, uint32_t address, bool* found);
  // Copies the entries into a fresh array of `slot_count` slots and publishes it.
  bool Rebuild(uint32_t slot_count);

  std::string name_;
  uint32_t entries_ = 0;
  rte_rcu_qsbr* qsbr_;
  std::atomic<Store*> store_;
};

// Multiplicative (Fibonacci) hashing: pod addresses come from contiguous CIDRs, and a
// multiply spreads consecutive addresses evenly over the buckets (CRC32 is linear, so
// its spread depends on which bits the CIDR varies).
inline uint32_t Ipv4BucketHash(uint32_t address) {
  return static_cast<uint32_t>((address * 0x9E3779B97F4A7C15ULL) >> 32);
}

inline uint32_t Ipv4PodTable::Locate(const View& view, uint32_t address) {
  const uint32_t bucket = Ipv4BucketHash(address) & view.bucket_mask;
  __builtin_prefetch(view.slots + static_cast<size_t>(bucket) * kSlotsPerBucket);
  return bucket;
}

// The reserved addresses "find" their marker slots, whose value is 0: a miss either way.
static_assert(DG_NAMESPACE_NONE == 0);

inline bool Ipv4PodTable::Find(const View& view, uint32_t address, uint32_t bucket,
                               uint32_t* value) {
  for (uint32_t visited = 0; visited <= view.bucket_mask; ++visited) {
    const uint64_t* line = view.slots + static_cast<size_t>(bucket) * kSlotsPerBucket;
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      // Relaxed is enough: the value travels in the same 64-bit word as its address.
      const uint64_t slot = __atomic_load_n(&line[i], __ATOMIC_RELAXED);
      const uint32_t slot_address = static_cast<uint32_t>(slot);
      if (slot_address == address) {
        *value = static_cast<uint32_t>(slot >> 32);
        return true;
      }
      if (slot_address == kEmptyAddress) return false;
    }
    bucket = (bucket + 1) & view.bucket_mask;
  }
  return false;
}

}  // namespace dg
