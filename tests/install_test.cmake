# Installs the build tree into a fresh prefix, then uses the installed package
# the ways a user would (tests/consumer):
#   1. find_package(mqseal) with Paho and OpenSSL unfindable: a core-only
#      consumer (mqseal::mqseal, mqseal::hazmat) may not need them even when
#      the package has mqseal::paho;
#   2. find_package(mqseal COMPONENTS hazmat paho): the Paho adapters;
#   3. find_package(mqseal COMPONENTS <unknown>) fails, saying why;
#   4. pkg-config: `c++ $(pkg-config --cflags --libs mqseal)`, no CMake.
# Called by CTest with -DBUILD_DIR -DSOURCE_DIR -DWORK_DIR -DGENERATOR
# -DCXX -DPKG_CONFIG -DLIBDIR -DWITH_PAHO.
cmake_minimum_required(VERSION 3.18)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()

# consumer NAME COMPONENTS [CMAKE-ARGS...]: configure tests/consumer asking
# find_package for COMPONENTS (a list, may be empty), build it and run it.
function(consumer name components)
  set(build ${WORK_DIR}/${name})
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${build} -G ${GENERATOR}
                  -DCMAKE_PREFIX_PATH=${prefix} "-DMQSEAL_CONSUMER_COMPONENTS=${components}"
                  --no-warn-unused-cli ${ARGN} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring the ${name} consumer against the installed package failed: ${rc}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "building the ${name} consumer failed: ${rc}")
  endif()
  file(GLOB programs LIST_DIRECTORIES false ${build}/*consumer)
  foreach(program IN LISTS programs)
    execute_process(COMMAND ${program} RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "${program} failed: ${rc}")
    endif()
  endforeach()
endfunction()

consumer(core_only "" -DCMAKE_DISABLE_FIND_PACKAGE_eclipse-paho-mqtt-c=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON)
if(NOT EXISTS ${WORK_DIR}/core_only/hazmat_consumer)
  message(FATAL_ERROR "the core-only consumer did not build hazmat_consumer (mqseal::hazmat)")
endif()
if(WITH_PAHO)
  consumer(paho "hazmat;paho")
  if(NOT EXISTS ${WORK_DIR}/paho/paho_consumer)
    message(FATAL_ERROR "COMPONENTS paho did not build paho_consumer")
  endif()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/unknown -G ${GENERATOR}
                -DCMAKE_PREFIX_PATH=${prefix} -DMQSEAL_CONSUMER_COMPONENTS=no_such_component
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc OR NOT out MATCHES "unknown component 'no_such_component'")
  message(FATAL_ERROR "find_package(mqseal COMPONENTS no_such_component) did not fail saying why:\n${out}")
endif()

# pkg-config, as a Makefile or meson build would use the installed core.
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/${LIBDIR}/pkgconfig
                        ${PKG_CONFIG} --cflags --libs mqseal
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE error OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config --cflags --libs mqseal failed: ${error}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
set(program ${WORK_DIR}/pkgconfig_consumer)
execute_process(COMMAND ${CXX} -std=c++17 ${SOURCE_DIR}/tests/consumer/pkgconfig_consumer.cpp -o ${program} ${flags}
                        -Wl,-rpath,${prefix}/${LIBDIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building with `pkg-config --cflags --libs mqseal` (${flags}) failed: ${rc}")
endif()
execute_process(COMMAND ${program} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the pkg-config consumer failed: ${rc}")
endif()
