# The authentication engine (issue 4): decisions and their KSE codes,
# lockout (with power cuts), trusted time and licences, the audit chain.
ks_add_unit(test_auth ${CMAKE_SOURCE_DIR}/tests/test_auth.c)
ks_add_unit(test_auth_lockout ${CMAKE_SOURCE_DIR}/tests/test_auth_lockout.c)
ks_add_unit(test_auth_time ${CMAKE_SOURCE_DIR}/tests/test_auth_time.c)
ks_add_unit(test_auth_audit ${CMAKE_SOURCE_DIR}/tests/test_auth_audit.c)
ks_add_unit(test_auth_fallback ${CMAKE_SOURCE_DIR}/tests/test_auth_fallback.c)
ks_add_unit(test_auth_licence ${CMAKE_SOURCE_DIR}/tests/test_auth_licence.c)
