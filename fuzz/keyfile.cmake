# Key file parser (src/host/ks_keyfile.c).
ks_add_fuzz(fuzz_keyfile ${CMAKE_SOURCE_DIR}/fuzz/fuzz_keyfile.c)
