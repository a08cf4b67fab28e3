# SPDX-License-Identifier: BSD-2-Clause
# The overlay resolver (lib/overlay.c) and mdspf_zone_has: a cmocka unit
# test like the others in tests/CMakeLists.txt.  Included from there.
add_executable(test_overlay test_overlay.c)
target_link_libraries(test_overlay PRIVATE maildrop-spf-static
                                           PkgConfig::CMOCKA)
target_include_directories(test_overlay PRIVATE ${PROJECT_SOURCE_DIR}/lib)
mdspf_warnings(test_overlay)
add_test(NAME test_overlay COMMAND test_overlay)
