# The controller's settings blob and identity file decoders. The agent is
# one executable, so the fuzzer compiles the codec's own file.
ks_add_fuzz(fuzz_ctl_blobs ${CMAKE_SOURCE_DIR}/fuzz/fuzz_ctl_blobs.c)
target_sources(fuzz_ctl_blobs PRIVATE ${CMAKE_SOURCE_DIR}/src/controller/ctl_codec.c)
target_include_directories(fuzz_ctl_blobs PRIVATE ${CMAKE_SOURCE_DIR}/src/controller)
