# The push path (issue 13; docs/supervisor.md, "The push path"): simulated
# controllers with a 60 s heartbeat hold watches; a revocation reaches all
# of them in seconds; a forged watch is refused; they re-establish after a
# keysupd restart; over watch_max the watch is refused (503) and the
# controllers keep heartbeating.
add_test(NAME watch_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/watch_e2e.sh)
set_tests_properties(watch_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-watch")
# The same with two keysupd on one PostgreSQL: the watches are held on the
# instance that does not publish, woken by its reload (pg_lib.sh starts a
# private PostgreSQL server).
add_test(NAME watch_pg_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/watch_pg_e2e.sh)
set_tests_properties(watch_pg_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-watch-pg")
# The delta carried in the watch's answer: tampered on the path (mitm_proxy.py
# mode watch_delta) it is refused like a fetched bad delta and fetched instead.
add_test(NAME watch_delta_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/watch_delta_e2e.sh)
set_tests_properties(watch_delta_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-watch-delta")
# The push path over TLS: an agent pinned from its token, a 60 s heartbeat,
# a revocation within 5 s.
add_test(NAME watch_tls_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/watch_tls_e2e.sh)
set_tests_properties(watch_tls_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-watch-tls")
