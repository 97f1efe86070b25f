# What a user installs (issue 16): `cmake --install BUILD [--prefix /usr]`
# and the Debian package from CPack (`cpack -G DEB` in a build configured
# for Release). Layout for prefix P:
#   P/bin/keysup, P/sbin/keysupd, P/sbin/keysup-controller
#   P/lib/systemd/system/*.service, P/lib/sysusers.d/keysup.conf,
#   P/lib/tmpfiles.d/keysup.conf, P/share/man/man{1,8}/...,
#   P/share/doc/keysup/ (docs, examples/keysupd.conf),
#   P/share/keysup/prometheus/keysup-rules.yml, P/share/keysup/web/ (console),
#   /etc/default/keysup-controller (P/etc/... unless P is /usr)
install(TARGETS keysup RUNTIME DESTINATION bin)
install(TARGETS keysupd keysup-controller RUNTIME DESTINATION sbin)
install(FILES docs/man/keysup.1 DESTINATION share/man/man1)
install(FILES docs/man/keysupd.8 docs/man/keysup-controller.8 DESTINATION share/man/man8)
install(FILES packaging/systemd/keysup.sysusers DESTINATION lib/sysusers.d RENAME keysup.conf)
install(FILES packaging/systemd/keysup.tmpfiles DESTINATION lib/tmpfiles.d RENAME keysup.conf)
file(GLOB KS_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${KS_DOCS} README.md DESTINATION share/doc/keysup)
install(FILES packaging/keysupd.conf.example DESTINATION share/doc/keysup/examples
        RENAME keysupd.conf)
install(PROGRAMS docs/examples/by-hand.sh DESTINATION share/doc/keysup/examples)
install(FILES docs/examples/integrate.c DESTINATION share/doc/keysup/examples)
install(FILES packaging/prometheus/keysup-rules.yml DESTINATION share/keysup/prometheus)
install(DIRECTORY web/ DESTINATION share/keysup/web FILES_MATCHING PATTERN "*.html"
        PATTERN "*.css" PATTERN "*.js" PATTERN "*.svg")
install(CODE "set(KS_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(KS_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
include(\"${CMAKE_SOURCE_DIR}/cmake/KsInstallUnits.cmake\")")

# The Debian package: `cpack -G DEB` (or `cmake --build BUILD --target package`).
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "keysup")
set(CPACK_PACKAGE_VENDOR "keysup")
set(CPACK_PACKAGE_CONTACT "keysup maintainers <keysup@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "key supervisor for access-controlled devices")
set(CPACK_PACKAGE_DESCRIPTION
    "keysup enrols smart keys, grants them privileges and keeps a signed credential\ndatabase in step on a fleet of controllers that authenticate keys offline.\nThis package holds keysupd (the supervisor daemon), keysup-controller (the\ncontroller agent), the keysup command, their systemd units and man pages.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm
    ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/demo/;/\\\\.git/")
include(CPack)
