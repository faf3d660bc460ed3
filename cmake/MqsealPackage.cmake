# The installed package: CMake config files (find_package(mqseal), with
# components) and mqseal.pc (pkg-config, for Makefile and meson builds).
# Included by the top-level CMakeLists.txt once every library target exists.
include(CMakePackageConfigHelpers)
set(mqseal_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/mqseal)

# Components that this build has; mqsealConfig.cmake refuses the others.
# hazmat is always built (it needs nothing the core does not).
set(MQSEAL_PACKAGE_COMPONENTS hazmat)
# Whether the core links OpenSSL's libcrypto (privately): mqsealConfig.cmake
# then finds it, as it finds libsodium, for a static libmqseal's link line.
set(MQSEAL_PACKAGE_WITH_OPENSSL ${MQSEAL_WITH_OPENSSL})
# Likewise hiredis for a core built with the Redis replay store.
set(MQSEAL_PACKAGE_WITH_REDIS ${MQSEAL_WITH_REDIS})
if(MQSEAL_BUILD_POLICY_FILE)
  list(APPEND MQSEAL_PACKAGE_COMPONENTS policy_file)
endif()
if(MQSEAL_BUILD_PAHO)
  list(APPEND MQSEAL_PACKAGE_COMPONENTS paho)
  install(EXPORT mqsealPahoTargets NAMESPACE mqseal:: DESTINATION ${mqseal_cmake_dir})
endif()
install(EXPORT mqsealTargets NAMESPACE mqseal:: DESTINATION ${mqseal_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mqsealConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mqsealConfig.cmake INSTALL_DESTINATION ${mqseal_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mqsealConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mqsealConfig.cmake ${PROJECT_BINARY_DIR}/mqsealConfigVersion.cmake
  DESTINATION ${mqseal_cmake_dir})

# mqseal.pc, relocatable: its paths are relative to where it is installed
# (${pcfiledir}), so `cmake --install --prefix` and DESTDIR work.
set(mqseal_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(MQSEAL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(mqseal_pc_dir ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig)
  set(MQSEAL_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(MQSEAL_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH mqseal_pc_up "/${mqseal_pc_dir}" "/")
  string(REGEX REPLACE "/$" "" mqseal_pc_up "${mqseal_pc_up}")
  set(MQSEAL_PC_PREFIX "\${pcfiledir}/${mqseal_pc_up}")
  set(MQSEAL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(MQSEAL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# libsodium is private to a shared libmqseal. A static libmqseal.a still needs
# it at link time, and a plain `pkg-config --libs` (without --static, which is
# how meson and most Makefiles ask) must then give it: so a static build lists
# it in Requires.
# The same holds for OpenSSL's libcrypto and hiredis in a core built with them.
set(mqseal_pc_modules "libsodium >= 1.0.18")
if(MQSEAL_WITH_OPENSSL)
  string(APPEND mqseal_pc_modules ", libcrypto >= 3.0")
endif()
if(MQSEAL_WITH_REDIS)
  string(APPEND mqseal_pc_modules ", hiredis")
endif()
get_target_property(mqseal_type mqseal TYPE)
if(mqseal_type STREQUAL "STATIC_LIBRARY")
  set(MQSEAL_PC_REQUIRES "Requires: ${mqseal_pc_modules}")
else()
  set(MQSEAL_PC_REQUIRES "Requires.private: ${mqseal_pc_modules}")
endif()
find_package(Threads REQUIRED)  # CMAKE_THREAD_LIBS_INIT: -pthread, or nothing on glibc 2.34+
string(STRIP "-L\${libdir} -lmqseal ${CMAKE_THREAD_LIBS_INIT}" MQSEAL_PC_LIBS)
configure_file(${PROJECT_SOURCE_DIR}/cmake/mqseal.pc.in ${PROJECT_BINARY_DIR}/mqseal.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mqseal.pc DESTINATION ${mqseal_pc_dir})
