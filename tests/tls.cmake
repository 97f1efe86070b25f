# TLS on the supervisor link: curl, gnutls-cli, openssl s_client, the CLI and
# controllers against keysupd serving HTTPS (tests/e2e/tls_e2e.sh).
add_test(NAME tls_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/tls_e2e.sh)
set_tests_properties(tls_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-tls")
