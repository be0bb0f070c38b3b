// Capture files for `replay`, through libpcap: records become mbuf chains and mbufs
// become records again, each keeping its captured bytes, its wire length and its
// timestamp. Records up to libpcap's 256 KiB fit: a chain of as many segments as the
// pool's data room needs.
//
// Not DPDK 22.11's pcap PMD (drivers/net/pcap): its receive path passes a record's
// 32-bit length to a 16-bit parameter when chaining, so above 64 KiB the chain is shorter
// than the pkt_len it claims (the transmit path's rte_pktmbuf_read then walks off the
// chain: the segfault of issue 13); its transmit path cuts multi-segment frames to
// 16,128 bytes (RTE_ETH_PCAP_SNAPLEN) and writes the captured length as the wire length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/result.h"

struct rte_mbuf;
struct rte_mempool;
struct pcap;
struct pcap_dumper;
struct pcap_pkthdr;

namespace dg {

class CaptureReader {
 public:
  // Pcap (µs or ns) and pcapng; Ethernet link type only, as the datapath parses Ethernet.
  static Result<std::unique_ptr<CaptureReader>> Open(const std::string& path);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  enum class Status { kFrame, kEnd, kNoMbufs, kError };
  // The next record as a chain from `pool`. kNoMbufs: the pool is empty now; the same
  // record is tried again by the next call (or dropped by SkipWaitingRecord). kError:
  // the file cannot be read further; error() says where and why.
  Status Next(rte_mempool* pool, rte_mbuf** frame);
  // Gives up on the record kNoMbufs left waiting (it needs more mbufs than the pool has).
  void SkipWaitingRecord() { record_waiting_ = false; }

  const ConfigError& error() const { return error_; }
  uint64_t records_read() const { return records_read_; }
  uint32_t waiting_record_length() const;
  uint32_t snapshot_length() const;

 private:
  CaptureReader(pcap* handle, std::string path) : handle_(handle), path_(std::move(path)) {}

  pcap* handle_;
  std::string path_;
  pcap_pkthdr* header_ = nullptr;
  const uint8_t* data_ = nullptr;
  bool record_waiting_ = false;
  uint64_t records_read_ = 0;
  ConfigError error_;
};

class CaptureWriter {
 public:
  // A nanosecond pcap with the reader's snapshot length.
  static Result<std::unique_ptr<CaptureWriter>> Open(const std::string& path,
                                                     const CaptureReader& like);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  // Appends the frame (one CaptureReader made) as a record with its original wire length
  // and timestamp.
  void Write(const rte_mbuf* frame);
  // Flushes and closes; an error says the output is incomplete.
  Result<bool> Close();

 private:
  CaptureWriter(pcap_dumper* dumper, std::string path) : dumper_(dumper), path_(std::move(path)) {}

  pcap_dumper* dumper_;
  std::string path_;
  std::vector<uint8_t> gathered_;  // a multi-segment frame made contiguous for libpcap
};

}  // namespace dg
