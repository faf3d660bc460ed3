# The everyday API (mqseal/mqseal.h, which includes every everyday core
# header) has none of the known-answer calls; mqseal/hazmat/ has each of them,
# in namespace mqseal::hazmat (issue 9: every use findable with grep).
# Compiles tests/everyday_api_probe.cpp with and without the hazmat headers.
# Called by CTest with -DCXX -DSOURCE_DIR -DINCLUDE_DIR -DGENERATED_INCLUDE_DIR.
cmake_minimum_required(VERSION 3.18)
set(problems "")
foreach(name derive_topic_key seal_with_header open_with_key make_connect_token_with_nonce)
  set(command ${CXX} -std=c++17 -fsyntax-only -I${INCLUDE_DIR} -I${GENERATED_INCLUDE_DIR}
              -DPROBE_NAME=${name} ${SOURCE_DIR}/tests/everyday_api_probe.cpp)
  execute_process(COMMAND ${command} -DMQSEAL_PROBE_HAZMAT RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    string(APPEND problems "mqseal::hazmat::${name} is not declared by mqseal/hazmat/:\n${out}\n")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc)
    string(APPEND problems "mqseal/mqseal.h declares mqseal::${name}: a known-answer call in the everyday API\n")
  elseif(NOT out MATCHES "${name}")
    string(APPEND problems "the probe for ${name} failed for another reason:\n${out}\n")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "${problems}")
endif()
