# Runtimes for cross-compiled executables (`llmc compile --emit exe --triple
# T`): for each triple in LLMC_CROSS_TRIPLES whose Debian cross compiler
# (T-g++, e.g. from g++-aarch64-linux-gnu) is installed, runtime/ is built
# on its own with that compiler into build/runtime-targets/T. The target's
# libomp is unpacked by scripts/setup.sh into build/sysroots/T.
include(ExternalProject)
set(LLMC_CROSS_TRIPLES "aarch64-linux-gnu" CACHE STRING
    "Triples to build llmc runtimes for (when their T-g++ is installed)")
set(LLMC_RUNTIME_TARGETS_DIR ${PROJECT_BINARY_DIR}/runtime-targets)
set(LLMC_SYSROOTS_DIR ${PROJECT_BINARY_DIR}/sysroots)
set(LLMC_CROSS_RUNTIME_TARGETS)

# nlohmann-json is header-only: a directory holding just nlohmann/, so the
# cross compiler sees no host system headers.
find_package(nlohmann_json REQUIRED)
get_target_property(json_dirs nlohmann_json::nlohmann_json
                    INTERFACE_INCLUDE_DIRECTORIES)
set(json_dir)
foreach(d ${json_dirs})
  if(EXISTS ${d}/nlohmann/json.hpp)
    set(json_dir ${d})
  endif()
endforeach()
set(cross_json ${LLMC_RUNTIME_TARGETS_DIR}/include)
file(MAKE_DIRECTORY ${cross_json})
if(json_dir AND NOT EXISTS ${cross_json}/nlohmann)
  file(CREATE_LINK ${json_dir}/nlohmann ${cross_json}/nlohmann SYMBOLIC)
endif()

foreach(triple ${LLMC_CROSS_TRIPLES})
  string(MAKE_C_IDENTIFIER ${triple} id)
  find_program(LLMC_CROSS_CXX_${id} ${triple}-g++)
  if(NOT LLMC_CROSS_CXX_${id})
    message(STATUS "${triple}-g++ not found: no runtime for --triple ${triple}")
    continue()
  endif()
  string(REGEX MATCH "^[^-]+" arch ${triple})
  set(dir ${LLMC_RUNTIME_TARGETS_DIR}/${triple})
  ExternalProject_Add(llmc-runtime-${triple}
    SOURCE_DIR ${PROJECT_SOURCE_DIR}/runtime
    BINARY_DIR ${dir}
    CMAKE_ARGS
      -DCMAKE_SYSTEM_NAME=Linux
      -DCMAKE_SYSTEM_PROCESSOR=${arch}
      -DCMAKE_CXX_COMPILER=${LLMC_CROSS_CXX_${id}}
      -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
      -DCMAKE_BUILD_TYPE=Release
      -DCMAKE_ARCHIVE_OUTPUT_DIRECTORY=${dir}
      -DLLMC_JSON_INCLUDE_DIR=${cross_json}
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON
    BUILD_BYPRODUCTS ${dir}/libllmc_runtime_static.a)
  list(APPEND LLMC_CROSS_RUNTIME_TARGETS llmc-runtime-${triple})
  message(STATUS "Building the llmc runtime for ${triple} with "
                 "${LLMC_CROSS_CXX_${id}}")
endforeach()
