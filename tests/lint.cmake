# SPDX-License-Identifier: BSD-2-Clause
# The record linter: the unit test (tests/test_lint.c, on the static
# library like the other unit tests, over tests/lint-zones/) and the
# command-line behaviour of spf-lint (tests/test_spflint.sh).  Included
# from tests/CMakeLists.txt.
add_executable(test_lint test_lint.c)
target_link_libraries(test_lint PRIVATE maildrop-spf-static PkgConfig::CMOCKA)
target_include_directories(test_lint PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_compile_definitions(test_lint PRIVATE
  MDSPF_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
mdspf_warnings(test_lint)
add_test(NAME test_lint COMMAND test_lint)
set_tests_properties(test_lint PROPERTIES TIMEOUT 300)

if(TARGET spf-lint)
  add_test(NAME spf-lint-cli
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_spflint.sh
            $<TARGET_FILE:spf-lint> ${PROJECT_SOURCE_DIR})
  set_tests_properties(spf-lint-cli PROPERTIES TIMEOUT 120)
endif()
