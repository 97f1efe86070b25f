# Parsers of the authentication engine (response, time token, licence,
# audit records) and the decision on hostile response bytes.
ks_add_fuzz(fuzz_auth ${CMAKE_SOURCE_DIR}/fuzz/fuzz_auth.c)
target_link_libraries(fuzz_auth PRIVATE PkgConfig::CMOCKA)
