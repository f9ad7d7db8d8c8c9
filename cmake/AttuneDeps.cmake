# Every external dependency is found here, once. All come from Debian packages
# (scripts/install-deps.sh names each one).
find_package(PkgConfig REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
# libvorbis (a dependency of libsndfile-dev): audio/ogg_vorbis_check checks Vorbis headers before libsndfile does.
pkg_check_modules(VORBIS REQUIRED IMPORTED_TARGET vorbis ogg)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# Optional: builds the attune-espeak synthesis server (a GPL-3.0 program of its own, src/tts/espeak_server).
pkg_check_modules(ESPEAK_NG IMPORTED_TARGET espeak-ng)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  # Debian's libcli11-dev ships the headers; the CMake config is optional there.
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
endif()
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)

if(ATTUNE_WITH_TORCH)
  # libtorch is large: only the targets that need it link it (see attune_use_torch).
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(WARNING "libtorch not found: building without the torch targets (install libtorch-dev)")
    set(ATTUNE_WITH_TORCH OFF)
  endif()
endif()

if(ATTUNE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(ATTUNE_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()
# cpp-httplib: Debian ships it as a compiled library; its pkg-config flags select the ABI it was built with.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
