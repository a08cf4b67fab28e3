# One warning list for project code (not applied to third-party code).
set(MDSPF_WARNINGS
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings
  -Wpointer-arith -Wformat=2 -Wundef -Wmisleading-indentation)
if(MDSPF_WERROR)
  list(APPEND MDSPF_WARNINGS -Werror)
endif()

function(mdspf_warnings target)
  target_compile_options(${target} PRIVATE ${MDSPF_WARNINGS})
endfunction()
