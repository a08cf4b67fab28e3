# SPDX-License-Identifier: BSD-2-Clause
# The Python binding (bindings/python): its pytest suite against this
# build's libraries, pyspf's test driver on the compatible module, and a
# pip install into a venv; then Debian's spf-engine (policyd-spf's code)
# run unchanged on pyspf and on the compatible module over NSD
# (tests/compat/spf-engine.sh).  Not in sanitizer builds: the
# interpreter would need the sanitizer runtime preloaded.
if(MDSPF_WITH_CARES AND NOT MDSPF_SANITIZE)
  add_test(NAME python-binding
    COMMAND bash ${PROJECT_SOURCE_DIR}/bindings/python/run-tests.sh
            ${PROJECT_SOURCE_DIR} ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
  set_tests_properties(python-binding PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77 LABELS "python")
  add_test(NAME compat-spf-engine
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/compat/spf-engine.sh
            $<TARGET_FILE:spfquery> ${CMAKE_LIBRARY_OUTPUT_DIRECTORY}
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(compat-spf-engine PROPERTIES TIMEOUT 180
    SKIP_RETURN_CODE 77 LABELS "python;compat;live-dns")
endif()
