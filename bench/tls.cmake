add_executable(bench_tls ${CMAKE_SOURCE_DIR}/bench/bench_tls.c)
target_include_directories(bench_tls PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_tls PRIVATE keysup_sup PkgConfig::CURL)
