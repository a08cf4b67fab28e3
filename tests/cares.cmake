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

# The backend's own UDP transport (lib/resolvers/cares/udp.c), tested
# directly: the test plays the DNS servers on loopback sockets.  udp.c is
# compiled into the test again (the backend builds it with hidden
# visibility); c-ares only for ares.h's status codes.
if(NOT TARGET PkgConfig::CARES)
  pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares>=1.18)
endif()
add_executable(test_udp test_udp.c
  ${PROJECT_SOURCE_DIR}/lib/resolvers/cares/udp.c)
target_link_libraries(test_udp PRIVATE PkgConfig::CMOCKA PkgConfig::CARES)
target_include_directories(test_udp PRIVATE ${PROJECT_SOURCE_DIR}/lib)
mdspf_warnings(test_udp)
add_test(NAME test_udp COMMAND test_udp)
set_tests_properties(test_udp PROPERTIES TIMEOUT 60)
