add_executable(bench_import ${CMAKE_SOURCE_DIR}/bench/bench_import.c)
target_include_directories(bench_import PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_import PRIVATE keysup_sup PkgConfig::CURL)
