# SPDX-License-Identifier: BSD-2-Clause
# The threading contract (tests/test_threads.c): one context and zone per
# thread, parsed records shared by all of them.  A CTest test here; the
# same program is also built with -fsanitize=thread in build-tsan/ by
# "./build.sh test".  Included from tests/CMakeLists.txt.

find_package(Threads REQUIRED)
add_executable(test_threads test_threads.c)
target_link_libraries(test_threads PRIVATE maildrop-spf-static
                                           Threads::Threads)
mdspf_warnings(test_threads)
add_test(NAME test_threads COMMAND test_threads)
set_tests_properties(test_threads PROPERTIES TIMEOUT 120)
