# The flash store (issue 3): behaviour and refusals, the power-loss sweeps
# (clean, torn, out-of-order), and the bit-flip sweep. Each prints its counts.
ks_add_unit(test_store ${CMAKE_SOURCE_DIR}/tests/test_store.c)
ks_add_unit(test_store_powerloss ${CMAKE_SOURCE_DIR}/tests/test_store_powerloss.c)
ks_add_unit(test_store_bitflip ${CMAKE_SOURCE_DIR}/tests/test_store_bitflip.c)
ks_add_unit(test_store_overlay ${CMAKE_SOURCE_DIR}/tests/test_store_overlay.c)
# Fallback policy (changed keys refused on an older database) and metadata repair.
ks_add_unit(test_store_fallback ${CMAKE_SOURCE_DIR}/tests/test_store_fallback.c)
set_tests_properties(test_store_powerloss PROPERTIES TIMEOUT 600)
# Layout 3's bit-flip sweeps flip one bit in eight (each byte once): the
# every-bit sweeps run on layout 4, the layout a new controller formats
# (below). KEYSUP_LONG=1 flips every bit on every layout.
set_tests_properties(test_store_bitflip test_store_overlay PROPERTIES TIMEOUT 600 ENVIRONMENT
                     "KS_STORE_BITFLIP_STEP=8;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
add_test(NAME store_cli COMMAND sh ${CMAKE_SOURCE_DIR}/tests/store_cli.sh $<TARGET_FILE:keysup>
         ${CMAKE_SOURCE_DIR}/fuzz/corpus/fuzz_flash_image/store_full)
# Wear accounting (issue 18): exact per-region erase counts, persisted, never over-counted.
ks_add_unit(test_store_wear ${CMAKE_SOURCE_DIR}/tests/test_store_wear.c)
# Accelerated life (issue 18): a flash that wears out under thousands of
# deltas and power cuts; retirement, spread, amplification, end of life.
ks_add_unit(test_store_life ${CMAKE_SOURCE_DIR}/tests/test_store_life.c)
# Layout 4's root sector (issue 18, device-wide levelling): the codec's exact
# round trip and every damaged root refused.
ks_add_unit(test_store_root ${CMAKE_SOURCE_DIR}/tests/test_store_root.c)
# The metadata ring: round every block, the image's block count at mount,
# the geometry from any block (docs/store.md, "The metadata ring").
ks_add_unit(test_store_ring ${CMAKE_SOURCE_DIR}/tests/test_store_ring.c)
# The page fence index (issue 18): follows every commit, answers exactly as
# the map path under page damage, and survives spoilt RAM.
ks_add_unit(test_store_pidx ${CMAKE_SOURCE_DIR}/tests/test_store_pidx.c)
# The store's files call one way only: no import circle (issue 15 item 2).
add_test(NAME store_layers COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/store_layers.py
         ${CMAKE_SOURCE_DIR}/src/core)
# Layout 1 (two contiguous snapshot areas: every image written before issue
# 18's paged snapshots) keeps working: the same tests on it.
foreach(t test_store test_store_fallback test_store_wear test_store_pidx test_store_ring)
  add_test(NAME ${t}_layout1 COMMAND ${t})
  set_tests_properties(${t}_layout1 PROPERTIES ENVIRONMENT
                       "KS_STORE_TEST_LAYOUT=1;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
  # Layout 2 (paged, without per-sector erase counts: images written before
  # layout 3) keeps working too.
  add_test(NAME ${t}_layout2 COMMAND ${t})
  set_tests_properties(${t}_layout2 PROPERTIES ENVIRONMENT
                       "KS_STORE_TEST_LAYOUT=2;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
endforeach()
# Layout 4 (the whole device levelled: the overlay and the page maps taken
# from the pool through a root sector per commit) runs the store's tests, the
# power-cut and every-bit flip sweeps and the accelerated life included.
foreach(t test_store test_store_fallback test_store_wear test_store_overlay test_store_pagemap
          test_store_powerloss test_store_bitflip test_store_life test_store_pidx test_store_ring)
  add_test(NAME ${t}_layout4 COMMAND ${t})
  set_tests_properties(${t}_layout4 PROPERTIES TIMEOUT 900 ENVIRONMENT
                       "KS_STORE_TEST_LAYOUT=4;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
endforeach()
# The power-cut and bit-flip sweeps take the layout as a parameter too, so
# every layout's write paths are swept, not only the default's. The bit-flip
# runs on the older layouts flip one bit in eight (each byte once) to stay
# bounded; KEYSUP_LONG=1 makes them flip every bit.
foreach(l 1 2)
  foreach(t test_store_powerloss test_store_bitflip)
    add_test(NAME ${t}_layout${l} COMMAND ${t})
    set_tests_properties(${t}_layout${l} PROPERTIES TIMEOUT 600 ENVIRONMENT
                         "KS_STORE_TEST_LAYOUT=${l};KS_STORE_BITFLIP_STEP=8;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
  endforeach()
endforeach()
# Layout 4 with a metadata ring of four blocks (docs/store.md, "The metadata
# ring"): the store's tests, the power-cut sweep over every write point (a
# compaction round the ring's end included) and the bit-flip sweep.
foreach(t test_store test_store_overlay test_store_powerloss test_store_bitflip)
  add_test(NAME ${t}_ring4 COMMAND ${t})
  set_tests_properties(${t}_ring4 PROPERTIES TIMEOUT 900 ENVIRONMENT
                       "KS_STORE_TEST_LAYOUT=4;KS_STORE_TEST_RING=4;KS_STORE_BITFLIP_STEP=8;KS_TESTDATA=${KS_TESTDATA};KS_BIN=${CMAKE_BINARY_DIR}/bin")
endforeach()
