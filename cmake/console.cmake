# The web console (web/): TypeScript + Preact, bundled by Vite into web/dist, which the binary
# serves at / (server.web_root, default "web/dist" relative to where it runs: the repository
# root in the README's commands). Its npm packages come from `npm ci --prefix web`
# (scripts/install-deps.sh runs it, pinned by web/package-lock.json); this target only
# type-checks and bundles, and reruns when a source file changes.
option(LLMP_BUILD_CONSOLE "Build the web console into web/dist (needs Node.js and npm)" ON)
if(NOT LLMP_BUILD_CONSOLE)
  return()
endif()

set(LLMP_WEB_DIR ${PROJECT_SOURCE_DIR}/web)
find_program(LLMP_NPM npm)
file(GLOB_RECURSE LLMP_CONSOLE_SOURCES CONFIGURE_DEPENDS ${LLMP_WEB_DIR}/src/*)
list(APPEND LLMP_CONSOLE_SOURCES ${LLMP_WEB_DIR}/index.html ${LLMP_WEB_DIR}/package.json
     ${LLMP_WEB_DIR}/package-lock.json ${LLMP_WEB_DIR}/tsconfig.json ${LLMP_WEB_DIR}/vite.config.ts)

if(NOT LLMP_NPM)
  # A build that says why it cannot make the console, rather than a server without one.
  add_custom_target(console ALL
    COMMAND ${CMAKE_COMMAND} -E echo "npm is missing: the web console needs Node.js 20 and npm (scripts/install-deps.sh installs them), or configure with -DLLMP_BUILD_CONSOLE=OFF"
    COMMAND ${CMAKE_COMMAND} -E false)
  return()
endif()

# The stamp is written after a successful build, so a failed one is retried next time.
set(LLMP_CONSOLE_STAMP ${CMAKE_BINARY_DIR}/console.stamp)
add_custom_command(
  OUTPUT ${LLMP_CONSOLE_STAMP} ${LLMP_WEB_DIR}/dist/index.html
  COMMAND sh -c "test -d node_modules || { echo 'web/node_modules is missing: run scripts/install-deps.sh (it runs npm ci --prefix web)' >&2; exit 1; }"
  COMMAND ${LLMP_NPM} run build --silent
  COMMAND ${CMAKE_COMMAND} -E touch ${LLMP_CONSOLE_STAMP}
  WORKING_DIRECTORY ${LLMP_WEB_DIR}
  DEPENDS ${LLMP_CONSOLE_SOURCES}
  COMMENT "Building the web console into web/dist (tsc, vite)"
  VERBATIM)
add_custom_target(console ALL DEPENDS ${LLMP_CONSOLE_STAMP})
