# keysupd's log/audit escaping and request-target check (src/supervisor/sup_esc.c).
ks_add_fuzz(fuzz_esc ${CMAKE_SOURCE_DIR}/fuzz/fuzz_esc.c)
target_link_libraries(fuzz_esc PRIVATE keysup_sup)
