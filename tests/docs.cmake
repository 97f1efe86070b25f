# The docs as a new user reads them: every marked sh block of README.md and
# docs/*.md runs as written (tests/e2e/readme_e2e.sh explains the markers).
add_test(NAME readme_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/readme_e2e.sh)
set_tests_properties(readme_e2e PROPERTIES TIMEOUT 300
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-readme")

# docs/integrate.md's example: a whole controller on libkeysup (flash HAL,
# store, snapshot, auth engine, a grant and a refusal), built and run.
add_executable(example_integrate ${CMAKE_SOURCE_DIR}/docs/examples/integrate.c)
target_link_libraries(example_integrate PRIVATE keysup_host)
set_target_properties(example_integrate PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME integrate_example COMMAND example_integrate)
# It exits non-zero unless maria is granted and eve refused with KSE-202.
set_tests_properties(integrate_example PROPERTIES TIMEOUT 30)

# ./run.sh on the test build: the demo as the README describes it, and every
# "Try:" line it prints, typed as printed.
add_test(NAME run_sh_try COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops/run_sh_try.sh)
set_tests_properties(run_sh_try PROPERTIES TIMEOUT 240
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ops-run-sh")
