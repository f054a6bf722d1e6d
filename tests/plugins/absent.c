/*
 * absent.c — the stub libophost-test-stub.so with the soname
 * libophost-test-absent.so, a file that exists nowhere. needslib.so is linked
 * against it, so dlopen() of needslib.so fails on a missing dependency, and
 * the refusal must name that library.
 */
#include <ophost/ophost.h>

OPHOST_EXPORT int ophost_test_absent(void);
OPHOST_EXPORT int ophost_test_absent(void) {
    return 0;
}
