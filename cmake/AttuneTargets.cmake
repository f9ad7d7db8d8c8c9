# Helpers shared by every CMakeLists.txt.

# attune_module(NAME SOURCES... DEPS...): one static library per folder of src/.
function(attune_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT M_SOURCES)  # a module whose folder holds headers only (so far)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${name} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${M_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${M_DEPS})
endfunction()

# attune_use_torch(TARGET [PUBLIC]): link libtorch and reuse the shared precompiled header, so a
# torch-heavy translation unit costs seconds, not ~16 s each (docs/design.md, build-time hygiene).
# Libraries whose users also need torch pass PUBLIC.
function(attune_use_torch target)
  set(visibility PRIVATE)
  if(ARGN)
    set(visibility ${ARGN})
  endif()
  if(NOT ATTUNE_WITH_TORCH)
    message(FATAL_ERROR "${target} needs libtorch (ATTUNE_WITH_TORCH=ON and libtorch-dev installed)")
  endif()
  if(NOT TARGET attune_torch_pch)
    add_library(attune_torch_pch STATIC ${CMAKE_SOURCE_DIR}/src/common/torch_pch.cpp)
    target_link_libraries(attune_torch_pch PUBLIC ${TORCH_LIBRARIES})
    target_compile_options(attune_torch_pch PUBLIC -Wno-unused-parameter)
    target_precompile_headers(attune_torch_pch PRIVATE <torch/torch.h>)
    # Every user of the PCH must compile with the same code-model flags (no target sets PIC), or
    # GCC rejects it (-Winvalid-pch says so) and each TU pays ~16 s again. All are PIC (top CMakeLists.txt).
    target_compile_options(attune_torch_pch PUBLIC -Winvalid-pch)
  endif()
  target_link_libraries(${target} ${visibility} ${TORCH_LIBRARIES})
  target_link_libraries(${target} PRIVATE attune_torch_pch)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    # CMake compiles PIC executables with -fPIE, which the -fPIC header does not match: compile them
    # -fPIC as well (code that still links into a position-independent executable).
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
  target_precompile_headers(${target} REUSE_FROM attune_torch_pch)
endfunction()

# attune_add_test(NAME LABEL <unit|model|e2e|slow> SOURCES... DEPS...): one GoogleTest binary,
# every case registered with ctest under the label. Paths (source tree, ../shared, the attune
# binary) are compiled into attune_test_support; environment variables of the same names override.
function(attune_add_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} attune_test_support GTest::gtest GTest::gmock)
  gtest_discover_tests(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT} DISCOVERY_TIMEOUT 60)
endfunction()
