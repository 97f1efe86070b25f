# Scheduling only: nothing here changes what a test does. (Named zz_ so it is
# read after every fragment that defines a test.)
#
# ctest -j starts tests in descending COST. A RUN_SERIAL test (most e2e
# tests) starts only when nothing else runs, so ctest runs every other test
# first, two at a time on CI's two cores, and a long one started last of
# those leaves the other core idle for all of its length while the serial
# tests wait. So the longest non-serial tests get the highest COST and start
# first. The figures are their seconds in the ASan build (docs/BENCHMARKS.md,
# "Test suite"); only their order matters. A build tree that has run the
# suite before uses its own measured times (Testing/Temporary/CTestCostData.txt)
# instead, as CTest does.
set(ks_test_costs
  test_store_overlay_layout4 60   test_store_bitflip_layout4 50
  cli_e2e 45                      readme_e2e 40
  test_store_bitflip_ring4 16     test_store_overlay_ring4 15
  test_store_bitflip 14           test_store_overlay 14
  test_store_bitflip_layout1 12   test_store_bitflip_layout2 12
  formats_reference 24            readme_by_hand 12
  test_store_powerloss_layout4 10 test_store_powerloss_ring4 10
  test_store_powerloss 8          test_store_powerloss_layout1 6
  test_store_powerloss_layout2 6  test_store_life_layout4 8
  test_store_life 8               flash_life_e2e 8
  supervisor_api_pg 8             supervisor_api 7
  test_supervisor_publish 7)
while(ks_test_costs)
  list(POP_FRONT ks_test_costs t c)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES COST ${c})
  endif()
endwhile()
