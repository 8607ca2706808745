/* Optional helpers for the C tests in c_tests/ (each test_*.c is its own
 * program; nothing here is required). */
#ifndef VYRE_TEST_H
#define VYRE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CTest treats exit code 77 as "skipped" (SKIP_RETURN_CODE). Use it only
 * when a capability (a Vulkan device, io_uring) is genuinely missing. */
#define VYRE_TEST_SKIP 77

/* Non-zero when VYRE_TEST_SCALE=small: the test runs under valgrind (which
 * sets it) and should shrink its loops and thread counts. */
static inline int vyre_test_small(void)
{
    const char *scale = getenv("VYRE_TEST_SCALE");
    return scale != NULL && strcmp(scale, "small") == 0;
}

/* `full` normally, `small` when vyre_test_small(). */
static inline unsigned vyre_test_scaled(unsigned full, unsigned small)
{
    return vyre_test_small() ? small : full;
}

#endif /* VYRE_TEST_H */
