# llmp_add_module(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
#
# One static library per module, `llmp::<name>`. Its public headers live in
# include/llmp/<name>/ and are exposed through a staging folder that holds only that module's
# headers, so a module sees the headers of exactly the modules it links: an upward include
# (core including net, say) fails to build instead of slipping in.
function(llmp_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target llmp_${name})
  add_library(${target} STATIC ${M_SOURCES})
  add_library(llmp::${name} ALIAS ${target})

  set(stage ${CMAKE_BINARY_DIR}/include_stage/${name})
  file(MAKE_DIRECTORY ${stage}/llmp)
  if(NOT EXISTS ${stage}/llmp/${name})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/llmp/${name} ${stage}/llmp/${name} SYMBOLIC)
  endif()
  target_include_directories(${target}
    PUBLIC ${stage}
    PRIVATE ${PROJECT_SOURCE_DIR}/src/${name})
  target_link_libraries(${target} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()
