#include "gateway/capture_file.h"

#include <pcap/pcap.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dg {
namespace {

constexpr uint64_t kNanosecondsPerSecond = 1000000000ULL;

// What a record carries besides its bytes, kept in the mbuf from reader to writer (the
// scheduler may reorder frames across classes, so it cannot live beside them).
struct RecordInfo {
  uint64_t timestamp_ns;
  uint32_t wire_length;
};

// Registered once per process; -1 until then or when registration failed.
int RecordInfoOffset() {
  static const int offset = [] {
    const rte_mbuf_dynfield field = {"dg_capture_record", sizeof(RecordInfo), alignof(RecordInfo),
                                     0};
    return rte_mbuf_dynfield_register(&field);
  }();
  return offset;
}

RecordInfo* InfoOf(rte_mbuf* mbuf) {
  return RTE_MBUF_DYNFIELD(mbuf, RecordInfoOffset(), RecordInfo*);
}

// A chain holding `length` bytes: every segment filled to its data room, the first one
// after the usual headroom. nullptr when the pool runs out (nothing is kept then).
rte_mbuf* BuildChain(rte_mempool* pool, const uint8_t* data, uint32_t length) {
  rte_mbuf* head = nullptr;
  rte_mbuf* tail = nullptr;
  uint32_t copied = 0;
  do {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool);
    if (segment == nullptr) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    if (head == nullptr) {
      head = segment;
    } else {
      segment->data_off = 0;  // later segments need no headroom
      tail->next = segment;
      ++head->nb_segs;
    }
    tail = segment;
    const uint32_t chunk = std::min<uint32_t>(rte_pktmbuf_tailroom(segment), length - copied);
    std::memcpy(rte_pktmbuf_mtod(segment, uint8_t*), data + copied, chunk);
    segment->data_len = static_cast<uint16_t>(chunk);
    head->pkt_len += chunk;
    copied += chunk;
  } while (copied < length);
  return head;
}

}  // namespace

Result<std::unique_ptr<CaptureReader>> CaptureReader::Open(const std::string& path) {
  if (RecordInfoOffset() < 0) {
    return ConfigError{
        path, "", std::string("cannot register the mbuf record field: ") + rte_strerror(rte_errno)};
  }
  // libpcap's own message for this case repeats the path.
  if (access(path.c_str(), R_OK) != 0) return ConfigError{path, "", std::strerror(errno)};
  char error[PCAP_ERRBUF_SIZE] = "";
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error);
  if (handle == nullptr) return ConfigError{path, "", error};
  std::unique_ptr<CaptureReader> reader(new CaptureReader(handle, path));
  if (const int link_type = pcap_datalink(handle); link_type != DLT_EN10MB) {
    const char* name = pcap_datalink_val_to_name(link_type);
    return ConfigError{path, "link type",
                       (name != nullptr ? std::string(name) : std::to_string(link_type)) +
                           " is not Ethernet; replay reads Ethernet captures only"};
  }
  return reader;
}

CaptureReader::~CaptureReader() { pcap_close(handle_); }

uint32_t CaptureReader::snapshot_length() const {
  return static_cast<uint32_t>(pcap_snapshot(handle_));
}

uint32_t CaptureReader::waiting_record_length() const {
  return record_waiting_ ? header_->caplen : 0;
}

CaptureReader::Status CaptureReader::Next(rte_mempool* pool, rte_mbuf** frame) {
  if (!record_waiting_) {
    const int rc = pcap_next_ex(handle_, &header_, &data_);
    if (rc == PCAP_ERROR_BREAK) return Status::kEnd;  // end of file
    if (rc != 1) {
      error_ =
          ConfigError{path_, "record " + std::to_string(records_read_ + 1), pcap_geterr(handle_)};
      return Status::kError;
    }
    ++records_read_;
    record_waiting_ = true;
  }
  rte_mbuf* chain = BuildChain(pool, data_, header_->caplen);
  if (chain == nullptr) return Status::kNoMbufs;
  record_waiting_ = false;
  RecordInfo* info = InfoOf(chain);
  info->timestamp_ns =
      static_cast<uint64_t>(header_->ts.tv_sec) * kNanosecondsPerSecond +
      static_cast<uint64_t>(header_->ts.tv_usec);  // nanoseconds: opened with that precision
  info->wire_length = header_->len;
  *frame = chain;
  return Status::kFrame;
}

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::Open(const std::string& path,
                                                           const CaptureReader& like) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(
      DLT_EN10MB, static_cast<int>(like.snapshot_length()), PCAP_TSTAMP_PRECISION_NANO);
  if (dead == nullptr) return ConfigError{path, "", "cannot create a pcap writer"};
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    ConfigError error{path, "", pcap_geterr(dead)};
    pcap_close(dead);
    return error;
  }
  pcap_close(dead);  // the dumper keeps what it needs
  return std::unique_ptr<CaptureWriter>(new CaptureWriter(dumper, path));
}

CaptureWriter::~CaptureWriter() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
}

void CaptureWriter::Write(const rte_mbuf* frame) {
  const uint32_t length = rte_pktmbuf_pkt_len(frame);
  if (gathered_.size() < length) gathered_.resize(length);
  const auto* bytes =
      static_cast<const uint8_t*>(rte_pktmbuf_read(frame, 0, length, gathered_.data()));
  const RecordInfo* info = InfoOf(const_cast<rte_mbuf*>(frame));
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(info->timestamp_ns / kNanosecondsPerSecond);
  header.ts.tv_usec = static_cast<suseconds_t>(info->timestamp_ns % kNanosecondsPerSecond);
  header.caplen = length;
  header.len = info->wire_length;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, bytes);
}

Result<bool> CaptureWriter::Close() {
  const bool flushed = pcap_dump_flush(dumper_) == 0 && ferror(pcap_dump_file(dumper_)) == 0;
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  if (!flushed) return ConfigError{path_, "", "writing the capture failed (disk full?)"};
  return true;
}

}  // namespace dg
