# The flash store on an emulated device with 1M credentials (issue 3).
add_executable(bench_store ${CMAKE_SOURCE_DIR}/bench/bench_store.c)
target_include_directories(bench_store PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store PRIVATE keysup_host)
# Issue 18: a stream of deltas over a fill cycle, folds included (layout 2).
add_executable(bench_store_fold ${CMAKE_SOURCE_DIR}/bench/bench_store_fold.c)
target_include_directories(bench_store_fold PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_store_fold PRIVATE keysup_host)
