# The flash store on an emulated device with 1M credentials (issue 3).
add_executable(bench_store ${CMAKE_SOURCE_DIR}/bench/bench_store.c)
target_include_directories(bench_store PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store PRIVATE keysup_host)
# Issue 18: a stream of deltas over a fill cycle, folds included (layout 2).
add_executable(bench_store_fold ${CMAKE_SOURCE_DIR}/bench/bench_store_fold.c)
target_include_directories(bench_store_fold PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store_fold PRIVATE keysup_host)
# Issue 18's long mode: years of deltas at 1M keys on a flash that wears out.
add_executable(bench_store_life ${CMAKE_SOURCE_DIR}/bench/bench_store_life.c)
target_include_directories(bench_store_life PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store_life PRIVATE keysup_host)
