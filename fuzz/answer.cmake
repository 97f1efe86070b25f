# The signed envelope of a supervisor answer (src/core/ks_answer.c).
ks_add_fuzz(fuzz_answer ${CMAKE_SOURCE_DIR}/fuzz/fuzz_answer.c)
