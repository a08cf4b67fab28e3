# SPDX-License-Identifier: BSD-2-Clause
# The Python binding (bindings/python): its pytest suite against this
# build's libraries, pyspf's test driver on the compatible module, and a
# pip install into a venv.  Not in sanitizer builds: the interpreter
# would need the sanitizer runtime preloaded.
if(MDSPF_WITH_CARES AND NOT MDSPF_SANITIZE)
  add_test(NAME python-binding
    COMMAND bash ${PROJECT_SOURCE_DIR}/bindings/python/run-tests.sh
            ${PROJECT_SOURCE_DIR} ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
  set_tests_properties(python-binding PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77)
endif()
