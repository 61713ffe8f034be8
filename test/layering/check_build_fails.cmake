# Passes when building TARGET fails because HEADER is not found: the layering holds.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled: an upward include slipped through the layering")
endif()
string(FIND "${out}${err}" "${HEADER}: No such file or directory" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${TARGET} failed for another reason than the missing header:\n${out}${err}")
endif()
