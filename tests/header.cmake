# SPDX-License-Identifier: BSD-2-Clause
# Received-SPF / Authentication-Results formatting (lib/header.c): a unit
# test on the static library, so it can also plant hostile outcome
# strings directly into a finished check.
add_executable(test_header test_header.c)
target_link_libraries(test_header PRIVATE maildrop-spf-static
  PkgConfig::CMOCKA)
target_include_directories(test_header PRIVATE ${PROJECT_SOURCE_DIR}/lib)
mdspf_warnings(test_header)
add_test(NAME test_header COMMAND test_header)
