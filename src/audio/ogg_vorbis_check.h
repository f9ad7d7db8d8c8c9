// A check of Ogg Vorbis headers before libsndfile opens the file: libsndfile 1.2 with libvorbis
// 1.3.7 leaks ~5.8 KB for every Ogg Vorbis file whose header packets are malformed or missing
// (xiph/vorbis#125), so a server decoding hostile uploads would grow without bound. Here libvorbis
// parses the three header packets itself and everything it allocates is freed.
#pragma once

#include <string>
#include <string_view>

namespace attune::audio {

// Why the first logical stream of the Ogg file `bytes` is Vorbis with unusable headers ("" when it
// is not Ogg, not Vorbis, or its identification, comment and setup headers all parse).
std::string ogg_vorbis_header_problem(std::string_view bytes);

}  // namespace attune::audio
