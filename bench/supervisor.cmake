add_executable(bench_supervisor ${CMAKE_SOURCE_DIR}/bench/bench_supervisor.c)
target_include_directories(bench_supervisor PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_supervisor PRIVATE keysup_sup PkgConfig::CURL)
