# Authentication decision on 1M credentials beside the bare Ed25519 verify.
add_executable(bench_auth ${CMAKE_SOURCE_DIR}/bench/bench_auth.c)
target_include_directories(bench_auth PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_auth PRIVATE keysup_host)
