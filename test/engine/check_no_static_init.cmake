# Fails when an object file compiled for an instruction set the CPU may lack (AVX-512, AVX2,
# AMX) has a dynamic initialiser: that code runs at start-up on every CPU, before the run-time
# check that picks the kernels, and kills the binary with SIGILL where the set is missing.
# Fails too when such a file defines one of our inline functions as a weak symbol: the linker
# keeps one copy of it for the whole binary, perhaps this file's, compiled for that set.
#   cmake -DOBJECTS="a.o|b.o|..." -DNM=nm -P check_no_static_init.cmake
string(REPLACE "|" ";" objects "${OBJECTS}")
set(checked 0)
foreach(object IN LISTS objects)
  if(NOT object MATCHES "(avx512|avx2|amx)[^/]*\\.o$")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  execute_process(COMMAND ${NM} "${object}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${object}")
  endif()
  if(symbols MATCHES "_GLOBAL__sub_I")
    message(FATAL_ERROR "${object} has a dynamic initialiser (a namespace-scope object built at start-up); "
                        "make it constexpr or a function")
  endif()
  # Weak definitions (W/V) of names in namespace llmp (mangled "4llmp").
  string(REGEX MATCHALL "[0-9a-f]+ [WV] [^\n]*4llmp[^\n]*" weak "${symbols}")
  if(weak)
    message(FATAL_ERROR "${object} defines inline functions of ours as weak symbols (${weak}); "
                        "give them internal linkage (an unnamed namespace) in files compiled for an instruction set")
  endif()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no AVX-512, AVX2 or AMX object file among the ones given")
endif()
message(STATUS "${checked} object files without dynamic initialisers")
