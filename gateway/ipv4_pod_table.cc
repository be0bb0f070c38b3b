#include "gateway/ipv4_pod_table.h"

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include <algorithm>
#include <bit>

#include "gateway/rcu_wait.h"

namespace dg {
namespace {

constexpr uint32_t kMinSlots = 2 * Ipv4PodTable::kSlotsPerBucket;

// Entries and tombstones together may fill this share of the slots before a rebuild.
uint32_t RebuildThreshold(uint32_t slot_count) { return slot_count / 4 * 3; }

uint64_t SlotWord(uint32_t address, uint32_t value) {
  return static_cast<uint64_t>(value) << 32 | address;
}

}  // namespace

Result<std::unique_ptr<Ipv4PodTable>> Ipv4PodTable::Create(const std::string& name,
                                                           uint32_t capacity, rte_rcu_qsbr* qsbr) {
  if (qsbr == nullptr) {
    return ConfigError{"pod table", name, "the IPv4 table needs the workers' RCU variable"};
  }
  if (SlotsFor(capacity) == 0) {
    return ConfigError{"pod table", name, "capacity " + std::to_string(capacity) + " is too large"};
  }
  const uint32_t slot_count = SlotsFor(0);
  Store* store = AllocateStore(name, slot_count);
  if (store == nullptr) {
    return ConfigError{"pod table", name,
                       "no memory for " + std::to_string(slot_count) + " IPv4 slots"};
  }
  return std::unique_ptr<Ipv4PodTable>(new Ipv4PodTable(name, qsbr, store));
}

// At most 2/3 full, so nearly every lookup ends in its first bucket. 0: beyond 2^31 slots.
uint32_t Ipv4PodTable::SlotsFor(uint32_t entries) {
  const uint64_t wanted = static_cast<uint64_t>(entries) + entries / 2 + 1;
  if (wanted > (uint64_t{1} << 31)) return 0;
  return std::max(kMinSlots, std::bit_ceil(static_cast<uint32_t>(wanted)));
}

Ipv4PodTable::~Ipv4PodTable() { FreeStore(store_.load(std::memory_order_relaxed)); }

Ipv4PodTable::Store* Ipv4PodTable::AllocateStore(const std::string& name, uint32_t slot_count) {
  // Zeroed memory is all kEmptyAddress. rte_zmalloc puts it on hugepages like rte_hash.
  auto* slots = static_cast<uint64_t*>(rte_zmalloc_socket(
      name.c_str(), sizeof(uint64_t) * slot_count, RTE_CACHE_LINE_SIZE, SOCKET_ID_ANY));
  if (slots == nullptr) return nullptr;
  return new Store{slots, slot_count / kSlotsPerBucket - 1, slot_count};
}

void Ipv4PodTable::FreeStore(Store* store) {
  if (store == nullptr) return;
  rte_free(store->slots);
  delete store;
}

int64_t Ipv4PodTable::Probe(const Store& store, uint32_t address, bool* found) {
  *found = false;
  int64_t first_removed = -1;
  uint32_t bucket = Ipv4BucketHash(address) & store.bucket_mask;
  for (uint32_t visited = 0; visited <= store.bucket_mask; ++visited) {
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const int64_t position = static_cast<int64_t>(bucket) * kSlotsPerBucket + i;
      const auto slot_address = static_cast<uint32_t>(store.slots[position]);
      if (slot_address == address) {
        *found = true;
        return position;
      }
      if (slot_address == kRemovedAddress && first_removed < 0) first_removed = position;
      if (slot_address == kEmptyAddress) return first_removed >= 0 ? first_removed : position;
    }
    bucket = (bucket + 1) & store.bucket_mask;
  }
  return first_removed;
}

bool Ipv4PodTable::Upsert(uint32_t address, uint32_t value) {
  if (address == kEmptyAddress || address == kRemovedAddress) return false;
  Store* store = store_.load(std::memory_order_relaxed);
  bool found = false;
  int64_t position = Probe(*store, address, &found);
  auto takes_empty_slot = [&] {
    return static_cast<uint32_t>(store->slots[position]) == kEmptyAddress;
  };
  if (!found && (position < 0 ||
                 (takes_empty_slot() && store->used + 1 > RebuildThreshold(store->slot_count)))) {
    // Out of empty slots (tombstones or growth): compact, and grow if the entries need it.
    const uint32_t slot_count = SlotsFor(entries_ + 1);
    if (slot_count == 0 || !Rebuild(std::max(store->slot_count, slot_count))) return false;
    store = store_.load(std::memory_order_relaxed);
    position = Probe(*store, address, &found);
    if (position < 0) return false;
  }
  if (!found && takes_empty_slot()) ++store->used;
  if (!found) ++entries_;
  __atomic_store_n(&store->slots[position], SlotWord(address, value), __ATOMIC_RELEASE);
  return true;
}

bool Ipv4PodTable::Remove(uint32_t address) {
  if (address == kEmptyAddress || address == kRemovedAddress) return false;
  Store* store = store_.load(std::memory_order_relaxed);
  bool found = false;
  const int64_t position = Probe(*store, address, &found);
  if (!found) return false;
  // A tombstone, not an empty slot: addresses further along the chain stay reachable.
  __atomic_store_n(&store->slots[position], SlotWord(kRemovedAddress, 0), __ATOMIC_RELEASE);
  --entries_;
  return true;
}

bool Ipv4PodTable::Contains(uint32_t address) const {
  if (address == kEmptyAddress || address == kRemovedAddress) return false;
  bool found = false;
  Probe(*store_.load(std::memory_order_relaxed), address, &found);
  return found;
}

bool Ipv4PodTable::Rebuild(uint32_t slot_count) {
  Store* old_store = store_.load(std::memory_order_relaxed);
  Store* fresh = AllocateStore(name_, slot_count);
  if (fresh == nullptr) return false;
  for (uint32_t i = 0; i < old_store->slot_count; ++i) {
    const uint64_t word = old_store->slots[i];
    const auto address = static_cast<uint32_t>(word);
    if (address == kEmptyAddress || address == kRemovedAddress) continue;
    bool found = false;
    const int64_t position = Probe(*fresh, address, &found);
    fresh->slots[position] = word;
    ++fresh->used;
  }
  store_.store(fresh, std::memory_order_release);
  // Workers may still read the old array until each has passed a quiescent state.
  WaitForQuiescentReaders(qsbr_);
  FreeStore(old_store);
  return true;
}

}  // namespace dg
