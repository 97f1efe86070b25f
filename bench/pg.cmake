# PostgreSQL beside SQLite (issue 14); bench/pg.sh runs it with a private
# PostgreSQL server and times publisher failover with real keysupd.
add_executable(bench_pg ${CMAKE_SOURCE_DIR}/bench/bench_pg.c)
target_include_directories(bench_pg PRIVATE ${CMAKE_SOURCE_DIR}/bench)
target_link_libraries(bench_pg PRIVATE keysup_sup PkgConfig::CURL)
