# SPDX-License-Identifier: BSD-2-Clause
# Tests of the libspf2-compatible library (lib/libspf2).

# Unit tests over the compat API, on its test build (allocation hook).
add_executable(test_libspf2 test_libspf2.c)
target_link_libraries(test_libspf2 PRIVATE spf2-compat-test
                                           PkgConfig::CMOCKA)
mdspf_warnings(test_libspf2)
add_test(NAME test_libspf2 COMMAND test_libspf2)

# One server per thread needs no lock (also built with ThreadSanitizer
# by ./build.sh test).
find_package(Threads REQUIRED)
add_executable(test_libspf2_threads test_libspf2_threads.c)
target_link_libraries(test_libspf2_threads PRIVATE spf2-compat-test
                                                   Threads::Threads)
mdspf_warnings(test_libspf2_threads)
add_test(NAME test_libspf2_threads COMMAND test_libspf2_threads)
set_tests_properties(test_libspf2_threads PROPERTIES TIMEOUT 120)

# The exported set: every symbol the Debian programs need, and nothing
# but SPF_* names.
add_test(NAME libspf2-symbols
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check-libspf2-symbols.sh
          $<TARGET_FILE:spf2-compat>
          ${CMAKE_CURRENT_SOURCE_DIR}/data/libspf2-symbols.txt)

# Struct layouts against libspf2's own headers (libspf2-dev): the same
# program built against both must print the same sizes and offsets.
add_executable(libspf2_layout_ours libspf2_layout.c)
target_include_directories(libspf2_layout_ours PRIVATE
  ${PROJECT_SOURCE_DIR}/include)
find_path(MDSPF_SYSTEM_SPF2_INCLUDE spf2/spf_dns_rr.h
  NO_CMAKE_PATH NO_CMAKE_ENVIRONMENT_PATH)
if(MDSPF_SYSTEM_SPF2_INCLUDE AND
   NOT MDSPF_SYSTEM_SPF2_INCLUDE STREQUAL "${PROJECT_SOURCE_DIR}/include")
  add_executable(libspf2_layout_ref libspf2_layout.c)
  target_include_directories(libspf2_layout_ref SYSTEM PRIVATE
    ${MDSPF_SYSTEM_SPF2_INCLUDE})
  # libspf2's headers need the BSD resolver names of glibc
  set_target_properties(libspf2_layout_ref PROPERTIES C_EXTENSIONS ON)
  target_compile_definitions(libspf2_layout_ref PRIVATE _DEFAULT_SOURCE)
  set(_ref $<TARGET_FILE:libspf2_layout_ref>)
else()
  set(_ref "")
endif()
add_test(NAME libspf2-layout
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check-libspf2-layout.sh
          $<TARGET_FILE:libspf2_layout_ours> "${_ref}")
set_tests_properties(libspf2-layout PROPERTIES SKIP_RETURN_CODE 77)
