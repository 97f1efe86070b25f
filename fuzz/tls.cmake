# TLS pin text and certificate parsing (src/host/ks_tlspin.c).
ks_add_fuzz(fuzz_tls_pin ${CMAKE_SOURCE_DIR}/fuzz/fuzz_tls_pin.c)
