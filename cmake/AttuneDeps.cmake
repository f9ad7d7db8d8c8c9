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
# Optional: builds the attune-flite synthesis server (src/tts/flite_server) with CMU Flite's US English
# voices. Debian's flite1-dev has no pkg-config file, so the header and each library are looked up.
find_path(FLITE_INCLUDE_DIR flite/flite.h)
set(FLITE_LIBRARIES)
foreach(lib flite_cmu_us_slt flite_cmu_us_rms flite_cmu_us_awb flite_cmu_us_kal16 flite_usenglish flite_cmulex flite)
  find_library(FLITE_LIB_${lib} ${lib})
  if(FLITE_LIB_${lib})
    list(APPEND FLITE_LIBRARIES ${FLITE_LIB_${lib}})
  else()
    set(FLITE_MISSING ${lib})
  endif()
endforeach()
if(FLITE_INCLUDE_DIR AND NOT FLITE_MISSING)
  set(FLITE_FOUND ON)
else()
  message(STATUS "CMU Flite not found (lib${FLITE_MISSING}): no flite voices (install flite1-dev)")
endif()
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
