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

/* Non-zero when the test runs under `tool`: "valgrind" for the *_valgrind
 * variant, "asan" for the *_asan one (CTest sets VYRE_TEST_TOOL). */
static inline int vyre_test_under(const char *tool)
{
    const char *running = getenv("VYRE_TEST_TOOL");
    return running != NULL && strcmp(running, tool) == 0;
}

/* ------------------------------------------------------------ checks
 * VYRE_CHECK(cond) and VYRE_CHECK_STATUS(call, expected) stay on in Release
 * builds (they do not use assert). On failure they print the file, line,
 * the expression, the status (name and number) and this thread's
 * vyre_last_error_message, then abort(). */
#include <vyre.h>

static inline void vyre_test_fail(const char *file, int line, const char *expr,
                                  const char *detail)
{
    char message[1024];
    message[0] = '\0';
    (void)vyre_last_error_message(message, sizeof message, NULL);
    fflush(stdout); /* progress lines first: abort() would drop them */
    fprintf(stderr, "%s:%d: check failed: %s%s%s\n  last error message: \"%s\"\n", file, line,
            expr, detail[0] != '\0' ? ": " : "", detail, message);
    fflush(stderr);
    abort();
}

static inline void vyre_test_fail_status(const char *file, int line, const char *expr,
                                         vyre_status got, vyre_status expected)
{
    char detail[256];
    snprintf(detail, sizeof detail, "returned %d (%s), expected %d (%s)", (int)got,
             vyre_status_str(got), (int)expected, vyre_status_str(expected));
    vyre_test_fail(file, line, expr, detail);
}

#define VYRE_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            vyre_test_fail(__FILE__, __LINE__, #cond, "");                      \
        }                                                                       \
    } while (0)

#define VYRE_CHECK_STATUS(call, expected)                                       \
    do {                                                                        \
        vyre_status vyre_test_got_ = (call);                                    \
        vyre_status vyre_test_want_ = (expected);                               \
        if (vyre_test_got_ != vyre_test_want_) {                                \
            vyre_test_fail_status(__FILE__, __LINE__, #call, vyre_test_got_,    \
                                  vyre_test_want_);                             \
        }                                                                       \
    } while (0)

#define VYRE_CHECK_OK(call) VYRE_CHECK_STATUS(call, VYRE_OK)

/* The status is `a` or `b` (either is right). */
#define VYRE_CHECK_STATUS_EITHER(call, a, b)                                    \
    do {                                                                        \
        vyre_status vyre_test_got_ = (call);                                    \
        if (vyre_test_got_ != (a) && vyre_test_got_ != (b)) {                   \
            vyre_test_fail_status(__FILE__, __LINE__, #call " (or " #b ")",     \
                                  vyre_test_got_, (a));                         \
        }                                                                       \
    } while (0)

/* The calling thread's last error message contains `needle`. */
static inline void vyre_test_message_has(const char *needle)
{
    char buf[1024];
    VYRE_CHECK_OK(vyre_last_error_message(buf, sizeof buf, NULL));
    if (strstr(buf, needle) == NULL) {
        fprintf(stderr, "expected \"%s\" in the last error message, got \"%s\"\n", needle, buf);
        VYRE_CHECK(!"last error message names the problem");
    }
}

/* A megakernel on `backend` (VYRE_BACKEND_AUTO: the default, which the
 * VYRE_BACKEND environment variable steers) with these counts, 0 meaning the
 * default; the test stops if creation fails. */
static inline vyre_megakernel *vyre_test_create(uint32_t backend, uint32_t slots, uint32_t workers,
                                                uint32_t observables, uint32_t tenants,
                                                uint32_t log_capacity)
{
    vyre_megakernel_options opts;
    vyre_megakernel *mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    opts.backend = backend;
    opts.slot_count = slots;
    opts.worker_count = workers;
    opts.observable_count = observables;
    opts.tenant_count = tenants;
    opts.debug_log_capacity = log_capacity;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
    VYRE_CHECK(mk != NULL);
    return mk;
}

#endif /* VYRE_TEST_H */
