# TLS on the supervisor link: curl, gnutls-cli, openssl s_client, the CLI and
# controllers against keysupd serving HTTPS (tests/e2e/tls_e2e.sh).
add_test(NAME tls_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/tls_e2e.sh)
set_tests_properties(tls_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-tls")

# Pins, --listen parsing, init's certificate and config edits, the
# controller's settings blob (v1 still read, v2 written with pins).
ks_add_unit(test_tls ${CMAKE_SOURCE_DIR}/tests/test_tls.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_agent.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_hal.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_tls.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_identity.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_codec.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_rollback.c)
target_include_directories(test_tls PRIVATE ${CMAKE_SOURCE_DIR}/src/controller)
target_link_libraries(test_tls PRIVATE keysup_sup PkgConfig::CURL)
