# Builds tests/subproject (mqseal inside another project, core only: policy
# file, Paho, plugin, the OpenSSL backend and Redis off, so no CLI and a
# libsodium-only core), runs its programs (one on mqseal::hazmat, one sealing
# and opening a bulk payload and asking for a Redis store, which it refuses
# saying it was built without), installs it, and checks that no OpenSSL or
# hiredis is linked or required, and
# the installed package: no header of a target that was not built, and
# find_package(mqseal COMPONENTS <not built>) fails saying why.
# Called by CTest with -DSOURCE_DIR -DWORK_DIR -DGENERATOR -DLAUNCHER.
cmake_minimum_required(VERSION 3.18)
file(REMOVE_RECURSE ${WORK_DIR})
set(build ${WORK_DIR}/build)
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/subproject -B ${build} -G ${GENERATOR}
                -DMQSEAL_SOURCE_DIR=${SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release
                -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}
                -DMQSEAL_BUILD_POLICY_FILE=OFF -DMQSEAL_BUILD_PAHO=OFF -DMQSEAL_BUILD_MOSQUITTO_PLUGIN=OFF
                -DMQSEAL_WITH_OPENSSL=OFF -DMQSEAL_WITH_REDIS=OFF
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "configuring mqseal as a subproject failed: ${rc}\n${out}")
endif()
if(NOT out MATCHES "AEAD backend libsodium only")
  message(FATAL_ERROR "-DMQSEAL_WITH_OPENSSL=OFF did not configure a libsodium-only core:\n${out}")
endif()
if(NOT out MATCHES "no Redis replay store \\(MQSEAL_WITH_REDIS is OFF\\)")
  message(FATAL_ERROR "-DMQSEAL_WITH_REDIS=OFF did not configure a core without Redis:\n${out}")
endif()
# MQSEAL_BUILD_CLI is left ON: the CLI, which needs mqseal::policy_file, is
# skipped, and configuring must say so.
if(NOT out MATCHES "not building the command line tool")
  message(FATAL_ERROR "the CLI was skipped (no mqseal::policy_file) without a word:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} --parallel 2 RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building mqseal as a subproject failed: ${rc}")
endif()
foreach(program app hazmat_app)
  execute_process(COMMAND ${build}/${program} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "the subproject's ${program} failed: ${rc}")
  endif()
  if(program STREQUAL "app" AND NOT out MATCHES "built without Redis \\(MQSEAL_WITH_REDIS=OFF\\)")
    message(FATAL_ERROR "a core built without Redis did not refuse redis:// saying so:\n${out}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${build} --prefix ${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "installing the subproject failed: ${rc}")
endif()

set(problems "")
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
if(NOT "include/mqseal/mqseal.h" IN_LIST installed)
  string(APPEND problems "mqseal.h was not installed: ${installed}\n")
endif()
if(NOT "include/mqseal/hazmat/envelope.h" IN_LIST installed OR NOT "include/mqseal/hazmat/credentials.h" IN_LIST installed)
  string(APPEND problems "the mqseal::hazmat headers were not installed: ${installed}\n")
endif()
# Without the OpenSSL backend nothing of OpenSSL is in the library, the
# pkg-config file or the CMake package.
file(GLOB libraries ${prefix}/lib*/libmqseal.*)
foreach(library IN LISTS libraries)
  file(STRINGS ${library} openssl_symbols REGEX "EVP_CIPHER_fetch|EVP_chacha20")
  if(openssl_symbols)
    string(APPEND problems "${library} refers to OpenSSL in a core built without it\n")
  endif()
  file(STRINGS ${library} hiredis_symbols REGEX "redisConnectWithTimeout|redisCommandArgv")
  if(hiredis_symbols)
    string(APPEND problems "${library} refers to hiredis in a core built without it\n")
  endif()
endforeach()
if(NOT libraries)
  string(APPEND problems "no libmqseal was installed: ${installed}\n")
endif()
file(GLOB_RECURSE pc_files ${prefix}/*/mqseal.pc)
file(GLOB_RECURSE config_files ${prefix}/*/mqsealConfig.cmake)
if(NOT pc_files OR NOT config_files)
  string(APPEND problems "mqseal.pc or mqsealConfig.cmake was not installed: ${installed}\n")
endif()
foreach(pc IN LISTS pc_files)
  file(READ ${pc} text)
  if(text MATCHES "libcrypto")
    string(APPEND problems "${pc} asks for OpenSSL's libcrypto in a core built without it:\n${text}\n")
  endif()
  if(text MATCHES "hiredis")
    string(APPEND problems "${pc} asks for hiredis in a core built without it:\n${text}\n")
  endif()
endforeach()
foreach(config IN LISTS config_files)
  file(READ ${config} text)
  if(NOT text MATCHES "if\\(OFF AND NOT TARGET PkgConfig::LIBCRYPTO\\)")
    string(APPEND problems "${config} looks for OpenSSL's libcrypto in a core built without it\n")
  endif()
  if(NOT text MATCHES "if\\(OFF AND NOT TARGET PkgConfig::HIREDIS\\)")
    string(APPEND problems "${config} looks for hiredis in a core built without it\n")
  endif()
endforeach()
if("include/mqseal/policy_file.h" IN_LIST installed)
  string(APPEND problems "policy_file.h was installed without mqseal::policy_file\n")
endif()
foreach(component policy_file paho)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/${component} -G ${GENERATOR}
                  -DCMAKE_PREFIX_PATH=${prefix} -DMQSEAL_CONSUMER_COMPONENTS=${component}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc OR NOT out MATCHES "component '${component}' was not built")
    string(APPEND problems "find_package(mqseal COMPONENTS ${component}) of a core-only mqseal did not fail "
                           "saying why:\n${out}\n")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "${problems}")
endif()
