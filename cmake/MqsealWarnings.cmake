# Warnings on the project's own code (not on code it includes). They are
# errors only when MQSEAL_WARNINGS_AS_ERRORS is ON: by default when mqseal is
# the top-level project (its own CI), not when another project pulls it in
# with add_subdirectory or FetchContent, where a newer compiler's new warning
# must not break someone else's build.
option(MQSEAL_WARNINGS_AS_ERRORS "Compile mqseal's own code with -Werror" ${MQSEAL_IS_TOP_LEVEL})

function(mqseal_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                         -Wno-sign-conversion)
  if(MQSEAL_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
