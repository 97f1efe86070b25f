add_executable(bench_formats ${CMAKE_SOURCE_DIR}/bench/bench_formats.c)
target_include_directories(bench_formats PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_formats PRIVATE keysup_host)
