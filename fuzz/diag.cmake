# The diagnosis engine's input: controller health reports (untrusted JSON).
ks_add_fuzz(fuzz_diag_report ${CMAKE_SOURCE_DIR}/fuzz/fuzz_diag_report.c)
target_link_libraries(fuzz_diag_report PRIVATE keysup_sup)
