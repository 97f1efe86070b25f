# The flash store's mount/recovery on arbitrary images (issue 3).
ks_add_fuzz(fuzz_flash_image ${CMAKE_SOURCE_DIR}/fuzz/fuzz_flash_image.c)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_flash_image)
