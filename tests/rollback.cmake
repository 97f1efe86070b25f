# From outside (field3): putting a controller's licence state back to an
# older one (docs/security.md "Rollback"), and what else the attack found.

# Rollback guards on the controller (docs/security.md "Rollback"): settings
# version 4, the policy sequence (KSE-802), the licence file kept offline
# (KSE-803), older settings written over newer ones.
ks_add_unit(test_ctl_rollback ${CMAKE_SOURCE_DIR}/tests/test_ctl_rollback.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_agent.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_hal.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_tls.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_identity.c
            ${CMAKE_SOURCE_DIR}/src/controller/ctl_codec.c ${CMAKE_SOURCE_DIR}/src/controller/ctl_rollback.c)
target_include_directories(test_ctl_rollback PRIVATE ${CMAKE_SOURCE_DIR}/src/controller)
target_link_libraries(test_ctl_rollback PRIVATE keysup_sup PkgConfig::CURL)

# A supervisor restored from an older backup, a revoked licence file put
# back on an offline controller; keysupd hanging while a watch is held
# (real processes).
foreach(t attack_rollback attack_hangwatch)
  add_test(NAME ${t}_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/${t}_e2e.sh)
  set_tests_properties(${t}_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
    ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-${t}")
endforeach()
