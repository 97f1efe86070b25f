# Issue 18: where keysup-controller's own store wears (its real set-up,
# ctl_open_mem, on a counting flash), metadata pair against a ring.
add_executable(bench_ctl_wear ${CMAKE_SOURCE_DIR}/bench/bench_ctl_wear.c)
target_include_directories(bench_ctl_wear PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_ctl_wear PRIVATE keysup_ctl)
