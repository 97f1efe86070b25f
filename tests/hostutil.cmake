# Host helpers shared by the CLI, keysupd and the controller: hex, passphrases.
ks_add_unit(test_hostutil ${CMAKE_SOURCE_DIR}/tests/test_hostutil.c)
