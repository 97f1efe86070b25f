# A decision whose key answers on SoftHSM2, beside a software key and a bare C_Sign.
add_executable(bench_hsm ${CMAKE_SOURCE_DIR}/bench/bench_hsm.c)
target_include_directories(bench_hsm PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_hsm PRIVATE keysup_host)
