# The docs as a new user reads them: every marked sh block of README.md and
# docs/*.md runs as written (tests/e2e/readme_e2e.sh explains the markers).
add_test(NAME readme_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/readme_e2e.sh)
set_tests_properties(readme_e2e PROPERTIES TIMEOUT 300
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-readme")
