# Core formats: crypto vectors, records, Merkle tree, snapshots, deltas, trust.
ks_add_unit(test_crypto_vectors ${CMAKE_SOURCE_DIR}/tests/test_crypto_vectors.c)
ks_add_unit(test_merkle ${CMAKE_SOURCE_DIR}/tests/test_merkle.c)
ks_add_unit(test_snapshot ${CMAKE_SOURCE_DIR}/tests/test_snapshot.c)
ks_add_unit(test_delta ${CMAKE_SOURCE_DIR}/tests/test_delta.c)
ks_add_unit(test_trust ${CMAKE_SOURCE_DIR}/tests/test_trust.c)

# The core as firmware: every src/core file builds for a Cortex-M4 as it is,
# with no OS symbols and no global state; prints text/data/bss.
find_program(KS_ARM_GCC arm-none-eabi-gcc)
if(KS_ARM_GCC)
  add_test(NAME arm_core_build COMMAND ${CMAKE_SOURCE_DIR}/scripts/arm-core.sh ${CMAKE_BINARY_DIR}/arm-core)
endif()
