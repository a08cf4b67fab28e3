# SPDX-License-Identifier: BSD-2-Clause
# c-ares backend tests: the scripted fault responder (a tool of its own,
# build/bin/dnsfault) and the cmocka program that drives the backend
# against it.  Included from tests/CMakeLists.txt.

add_executable(dnsfault dnsfault.c)
mdspf_warnings(dnsfault)

add_executable(test_cares test_cares.c)
target_link_libraries(test_cares PRIVATE maildrop-spf-cares-static
                                         PkgConfig::CMOCKA)
target_include_directories(test_cares PRIVATE ${PROJECT_SOURCE_DIR}/lib)
# The responder is started by the test itself; its path can also be
# given as the first argument (e.g. a wrapper running it under valgrind).
target_compile_definitions(test_cares PRIVATE
  MDSPF_DNSFAULT_PATH="$<TARGET_FILE:dnsfault>")
add_dependencies(test_cares dnsfault)
mdspf_warnings(test_cares)
add_test(NAME test_cares COMMAND test_cares)
set_tests_properties(test_cares PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
