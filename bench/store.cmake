# The flash store on an emulated device with 1M credentials (issue 3).
add_executable(bench_store ${CMAKE_SOURCE_DIR}/bench/bench_store.c)
target_include_directories(bench_store PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store PRIVATE keysup_host)
