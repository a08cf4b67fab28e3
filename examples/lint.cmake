# SPDX-License-Identifier: BSD-2-Clause
# spf-lint: the record linter for mail administrators (the mdspf_lint_*
# API of the core library, live DNS through the c-ares backend or zone
# files).  Included from examples/CMakeLists.txt.
if(TARGET maildrop-spf-cares)
  add_executable(spf-lint spf-lint.c)
  target_link_libraries(spf-lint PRIVATE mdspf_toolutil maildrop-spf
                                         maildrop-spf-cares)
  mdspf_warnings(spf-lint)
  install(TARGETS spf-lint RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
