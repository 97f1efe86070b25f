# Runs at install time (cmake --install, CPack): the systemd units and the
# files under /etc get the paths of *this* installation, whatever --prefix
# or CPACK_PACKAGING_INSTALL_PREFIX chose, so ExecStart= never names a
# binary that is not there. Expects KS_SOURCE_DIR and KS_BINARY_DIR.
set(KS_SBINDIR "${CMAKE_INSTALL_PREFIX}/sbin")
set(KS_DOCDIR "${CMAKE_INSTALL_PREFIX}/share/doc/keysup")
# A /usr installation keeps its configuration in /etc (FHS); any other
# prefix (/usr/local, /opt/keysup) keeps it under the prefix.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(KS_ETCDIR "/etc")
else()
  set(KS_ETCDIR "${CMAKE_INSTALL_PREFIX}/etc")
endif()
foreach(unit keysupd keysup-controller)
  configure_file("${KS_SOURCE_DIR}/packaging/systemd/${unit}.service.in"
                 "${KS_BINARY_DIR}/packaging/${unit}.service" @ONLY)
endforeach()
file(INSTALL "${KS_BINARY_DIR}/packaging/keysupd.service"
             "${KS_BINARY_DIR}/packaging/keysup-controller.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${KS_SOURCE_DIR}/packaging/keysup-controller.default"
     DESTINATION "${KS_ETCDIR}/default" RENAME keysup-controller
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
