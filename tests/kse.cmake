# The Key Supervisor Error catalogue and its generated documentation.
ks_add_unit(test_kse ${CMAKE_SOURCE_DIR}/tests/test_kse.c)
target_compile_definitions(test_kse PRIVATE KS_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
