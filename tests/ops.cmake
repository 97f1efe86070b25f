# Operations: what an operator's machine checks (issue 16): /metrics and the
# alert rules through promtool, the README's by-hand section run line for
# line, install tree and Debian package, systemd units verified.
add_test(NAME metrics_promtool COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/metrics_promtool.sh)
set_tests_properties(metrics_promtool PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-metrics")
add_test(NAME rules_promtool COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/rules_promtool.sh)
add_test(NAME readme_by_hand COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/readme_by_hand.sh)
set_tests_properties(readme_by_hand PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-by-hand")
add_test(NAME package_install COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/package.sh)
set_tests_properties(package_install PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BUILD=${CMAKE_BINARY_DIR};KS_WORK=${CMAKE_BINARY_DIR}/ops-package")
add_test(NAME cli_conventions COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/cli_conventions.sh)
set_tests_properties(cli_conventions PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-cli")
add_test(NAME sd_notify COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/sd_notify.sh)
set_tests_properties(sd_notify PROPERTIES TIMEOUT 90
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-notify")
add_test(NAME webhook COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/webhook.sh)
set_tests_properties(webhook PROPERTIES TIMEOUT 150
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-webhook")
