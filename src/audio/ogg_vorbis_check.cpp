#include "audio/ogg_vorbis_check.h"

#include <ogg/ogg.h>
#include <vorbis/codec.h>

#include <algorithm>
#include <cstring>

namespace attune::audio {
namespace {

// Owns the libogg/libvorbis state of one check, so every return path frees it.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view bytes) : unread_(bytes) {
    ogg_sync_init(&sync_);
    vorbis_info_init(&info_);
    vorbis_comment_init(&comment_);
  }
  ~HeaderReader() {
    vorbis_comment_clear(&comment_);
    vorbis_info_clear(&info_);
    if (stream_started_) ogg_stream_clear(&stream_);
    ogg_sync_clear(&sync_);
  }
  HeaderReader(const HeaderReader&) = delete;
  HeaderReader& operator=(const HeaderReader&) = delete;

  // The next packet of the first logical stream; false when the data ends first.
  bool next_packet(ogg_packet& packet) {
    for (;;) {
      if (stream_started_ && ogg_stream_packetout(&stream_, &packet) == 1) return true;
      ogg_page page;
      const int got = ogg_sync_pageout(&sync_, &page);
      if (got == 0 && !feed()) return false;  // no complete page, and nothing left to read
      if (got <= 0) continue;                 // fed more, or skipped garbage before a page
      if (!stream_started_) {
        ogg_stream_init(&stream_, ogg_page_serialno(&page));
        stream_started_ = true;
      }
      ogg_stream_pagein(&stream_, &page);  // pages of other streams are refused here, as intended
    }
  }

  vorbis_info info_;
  vorbis_comment comment_;

 private:
  // Hands libogg the next 64 KB: the headers sit in the first pages, so an upload of many
  // megabytes is not copied whole for them.
  bool feed() {
    if (unread_.empty()) return false;
    const size_t n = std::min<size_t>(unread_.size(), 64 * 1024);
    char* buffer = ogg_sync_buffer(&sync_, static_cast<long>(n));
    if (!buffer) return false;
    std::memcpy(buffer, unread_.data(), n);
    ogg_sync_wrote(&sync_, static_cast<long>(n));
    unread_.remove_prefix(n);
    return true;
  }

  std::string_view unread_;
  ogg_sync_state sync_;
  ogg_stream_state stream_;
  bool stream_started_ = false;
};

}  // namespace

std::string ogg_vorbis_header_problem(std::string_view bytes) {
  if (bytes.size() < 4 || bytes.substr(0, 4) != "OggS") return "";
  HeaderReader reader(bytes);
  ogg_packet packet;
  if (!reader.next_packet(packet) || vorbis_synthesis_idheader(&packet) != 1) return "";  // not Vorbis
  static const char* const kHeaders[] = {"identification", "comment", "setup"};
  for (int i = 0; i < 3; ++i) {
    if (i > 0 && !reader.next_packet(packet)) {
      return std::string("Ogg Vorbis stream ends before its ") + kHeaders[i] + " header";
    }
    if (vorbis_synthesis_headerin(&reader.info_, &reader.comment_, &packet) != 0) {
      return std::string("malformed Ogg Vorbis ") + kHeaders[i] + " header";
    }
  }
  return "";
}

}  // namespace attune::audio
