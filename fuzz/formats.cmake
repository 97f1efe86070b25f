# Parsers of the core formats, plus the seed generator they all start from.
add_executable(fuzz_make_seeds ${CMAKE_SOURCE_DIR}/fuzz/make_seeds.c)
target_link_libraries(fuzz_make_seeds PRIVATE keysup_host)
add_test(NAME fuzz_make_seeds COMMAND fuzz_make_seeds ${CMAKE_BINARY_DIR}/fuzz-corpus)
set_tests_properties(fuzz_make_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds)

ks_add_fuzz(fuzz_snapshot ${CMAKE_SOURCE_DIR}/fuzz/fuzz_snapshot.c)
ks_add_fuzz(fuzz_delta ${CMAKE_SOURCE_DIR}/fuzz/fuzz_delta.c)
ks_add_fuzz(fuzz_rotation ${CMAKE_SOURCE_DIR}/fuzz/fuzz_rotation.c)
