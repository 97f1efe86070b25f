# The operator console in a real browser (issue 12): Debian's chromium
# driven by npm playwright-core against a real keysupd with real controller
# agents. web_deps installs playwright-core first (a no-op when present);
# screenshots land in e2e-console/shots.
add_test(NAME console_web_deps COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/web_deps.sh)
set_tests_properties(console_web_deps PROPERTIES FIXTURES_SETUP console_npm TIMEOUT 300)
add_test(NAME console_browser_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/web/console_e2e.sh)
set_tests_properties(console_browser_e2e PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE
  FIXTURES_REQUIRED console_npm
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-console")
# The same server side without a browser: cookies, expiry, CSRF, operators.
add_test(NAME console_api_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/web/console_api_e2e.sh)
set_tests_properties(console_api_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-console-api")
