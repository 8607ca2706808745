/* vyre_status_str and vyre_last_error_message: every status code has its
 * own static description, unknown codes still get one, and the last error
 * message is sized, truncated, NUL-terminated, names the failing function,
 * survives successful calls and is private to each thread. */
#undef NDEBUG
#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

static const vyre_status all_codes[] = {
    VYRE_OK,
    VYRE_E_INVALID_ARGUMENT,
    VYRE_E_NULL_POINTER,
    VYRE_E_OUT_OF_RANGE,
    VYRE_E_QUEUE_FULL,
    VYRE_E_TIMEOUT,
    VYRE_E_SHUTDOWN,
    VYRE_E_UNSUPPORTED,
    VYRE_E_SLOT_FAULT,
    VYRE_E_TICKET_EXPIRED,
    VYRE_E_BUFFER_TOO_SMALL,
    VYRE_E_DEVICE_LOST,
    VYRE_E_OUT_OF_MEMORY,
    VYRE_E_CANCELLED,
    VYRE_E_PANIC,
    VYRE_E_INTERNAL,
    VYRE_E_PROTOCOL,
    VYRE_E_NOT_FOUND,
    VYRE_E_HITS_TRUNCATED,
};
#define CODE_COUNT (sizeof all_codes / sizeof all_codes[0])

/* This thread's whole last error message, in a fresh buffer of `cap` bytes. */
static void last_error(char *buf, size_t cap)
{
    size_t needed = 0;
    vyre_status st;
    memset(buf, 'x', cap);
    st = vyre_last_error_message(buf, cap, &needed);
    VYRE_CHECK(st == VYRE_OK);
    VYRE_CHECK(needed == strlen(buf) + 1);
}

static void test_status_strings(void)
{
    const char *text[CODE_COUNT];
    const char *unknown;
    const vyre_status odd[] = {12345, INT32_MIN, INT32_MAX, -5, -1, -999, -1000, -1019,
                               -100000, 1};
    size_t i, j;

    for (i = 0; i < CODE_COUNT; i++) {
        text[i] = vyre_status_str(all_codes[i]);
        VYRE_CHECK(text[i] != NULL);
        VYRE_CHECK(text[i][0] != '\0');
        /* Static: the same pointer every time. */
        VYRE_CHECK(vyre_status_str(all_codes[i]) == text[i]);
    }
    for (i = 0; i < CODE_COUNT; i++) {
        for (j = i + 1; j < CODE_COUNT; j++) {
            if (strcmp(text[i], text[j]) == 0) {
                fprintf(stderr, "codes %d and %d share the description \"%s\"\n",
                        (int)all_codes[i], (int)all_codes[j], text[i]);
                VYRE_CHECK(!"status descriptions are distinct");
            }
        }
    }

    /* The error codes are negative, distinct and outside the -errno range. */
    for (i = 1; i < CODE_COUNT; i++) {
        VYRE_CHECK(all_codes[i] <= -1001);
    }

    /* Codes libvyre does not define still get a non-NULL description, and
     * one that is not a defined code's. */
    unknown = vyre_status_str(12345);
    for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        const char *s = vyre_status_str(odd[i]);
        VYRE_CHECK(s != NULL);
        VYRE_CHECK(s[0] != '\0');
        for (j = 0; j < CODE_COUNT; j++) {
            VYRE_CHECK(strcmp(s, text[j]) != 0);
        }
    }
    /* Codes libvyre does not define, far from each other, are described
     * alike (as unknown); -errno codes may have a description of their own. */
    VYRE_CHECK(strcmp(vyre_status_str(INT32_MIN), unknown) == 0);
    VYRE_CHECK(strcmp(vyre_status_str(-1019), unknown) == 0);
    VYRE_CHECK(strcmp(vyre_status_str(INT32_MAX), unknown) == 0);
}

/* A fresh thread has no last error: empty message, `needed` 1. */
static void check_no_error_yet(void)
{
    char buf[8];
    size_t needed = 12345;
    VYRE_CHECK_OK(vyre_last_error_message(NULL, 0, &needed));
    VYRE_CHECK(needed == 1);
    memset(buf, 'x', sizeof buf);
    needed = 0;
    VYRE_CHECK_OK(vyre_last_error_message(buf, sizeof buf, &needed));
    VYRE_CHECK(buf[0] == '\0');
    VYRE_CHECK(needed == 1);
    /* A one-byte buffer holds the empty message. */
    memset(buf, 'x', sizeof buf);
    VYRE_CHECK_OK(vyre_last_error_message(buf, 1, NULL));
    VYRE_CHECK(buf[0] == '\0');
    VYRE_CHECK(buf[1] == 'x');
}

static void test_last_error_message(void)
{
    char full[1024], again[1024], small[6];
    size_t needed = 0, needed2 = 0, len;
    vyre_megakernel_options opts;

    check_no_error_yet();

    /* Fail a call: its message names the function and is not empty. */
    VYRE_CHECK_STATUS(vyre_megakernel_options_init(NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_last_error_message(NULL, 0, &needed), VYRE_E_BUFFER_TOO_SMALL);
    last_error(full, sizeof full);
    len = strlen(full);
    VYRE_CHECK(len > 0);
    VYRE_CHECK(needed == len + 1);
    VYRE_CHECK(strstr(full, "vyre_megakernel_options_init") != NULL);
    VYRE_CHECK(len > strlen("vyre_megakernel_options_init") + 2);

    /* `needed` may be NULL; a buffer of exactly `needed` bytes fits. */
    VYRE_CHECK_STATUS(vyre_last_error_message(NULL, 0, NULL), VYRE_E_BUFFER_TOO_SMALL);
    memset(again, 'x', sizeof again);
    VYRE_CHECK_OK(vyre_last_error_message(again, needed, NULL));
    VYRE_CHECK(strcmp(again, full) == 0);

    /* One byte short: truncated, NUL-terminated, the prefix copied. */
    memset(again, 'x', sizeof again);
    VYRE_CHECK_STATUS(vyre_last_error_message(again, needed - 1, &needed2),
                      VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK(needed2 == needed);
    VYRE_CHECK(again[needed - 2] == '\0');
    VYRE_CHECK(strlen(again) == len - 1);
    VYRE_CHECK(strncmp(again, full, len - 1) == 0);
    VYRE_CHECK(again[needed - 1] == 'x'); /* nothing written past len */

    memset(small, 'x', sizeof small);
    VYRE_CHECK_STATUS(vyre_last_error_message(small, 5, &needed2), VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK(needed2 == needed);
    VYRE_CHECK(small[4] == '\0');
    VYRE_CHECK(strncmp(small, full, 4) == 0);
    VYRE_CHECK(small[5] == 'x');

    /* A one-byte buffer gets just the NUL. */
    memset(small, 'x', sizeof small);
    VYRE_CHECK_STATUS(vyre_last_error_message(small, 1, NULL), VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK(small[0] == '\0');
    VYRE_CHECK(small[1] == 'x');

    /* NULL buffer with a length: NULL_POINTER, `needed` still reported,
     * and the message itself is left alone. */
    needed2 = 0;
    VYRE_CHECK_STATUS(vyre_last_error_message(NULL, 10, &needed2), VYRE_E_NULL_POINTER);
    VYRE_CHECK(needed2 == needed);
    VYRE_CHECK_STATUS(vyre_last_error_message(NULL, 1, NULL), VYRE_E_NULL_POINTER);
    last_error(again, sizeof again);
    VYRE_CHECK(strcmp(again, full) == 0);

    /* Successful calls leave the message unchanged. */
    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    VYRE_CHECK(vyre_version_string() != NULL);
    last_error(again, sizeof again);
    VYRE_CHECK(strcmp(again, full) == 0);

    /* The next failure replaces it, naming its own function. */
    VYRE_CHECK_STATUS(vyre_megakernel_epoch(NULL, NULL), VYRE_E_NULL_POINTER);
    last_error(again, sizeof again);
    VYRE_CHECK(strstr(again, "vyre_megakernel_epoch") != NULL);
    VYRE_CHECK(strstr(again, "vyre_megakernel_options_init") == NULL);

    VYRE_CHECK_STATUS(vyre_megakernel_create(&opts, NULL), VYRE_E_NULL_POINTER);
    last_error(again, sizeof again);
    VYRE_CHECK(strstr(again, "vyre_megakernel_create") != NULL);
}

/* ------------------------------------------------ thread-local messages */

static pthread_barrier_t barrier;

struct thread_result {
    char before[256];  /* message at thread start */
    char mine[1024];   /* message after this thread's own failure */
    char after[1024];  /* message after the other thread failed */
};

/* Thread B: starts with no message, fails its own call, then checks that
 * the main thread's later failure did not change its message. */
static void *thread_b(void *arg)
{
    struct thread_result *r = arg;
    vyre_megakernel *mk = NULL;
    vyre_megakernel_options opts;

    last_error(r->before, sizeof r->before);
    pthread_barrier_wait(&barrier); /* 1: main thread has failed a call */

    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    opts.flags = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_create(&opts, &mk), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(mk == NULL);
    last_error(r->mine, sizeof r->mine);
    pthread_barrier_wait(&barrier); /* 2: B has failed */

    pthread_barrier_wait(&barrier); /* 3: main failed again */
    last_error(r->after, sizeof r->after);
    return NULL;
}

static void test_thread_local(void)
{
    pthread_t b;
    struct thread_result r;
    char main_msg[1024], main_now[1024];
    uint32_t epoch;

    memset(&r, 0, sizeof r);
    VYRE_CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
    VYRE_CHECK(pthread_create(&b, NULL, thread_b, &r) == 0);

    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(NULL, NULL, 0), VYRE_E_NULL_POINTER);
    last_error(main_msg, sizeof main_msg);
    VYRE_CHECK(strstr(main_msg, "vyre_megakernel_read_metrics") != NULL);
    pthread_barrier_wait(&barrier); /* 1 */

    pthread_barrier_wait(&barrier); /* 2: B failed; ours is unchanged */
    last_error(main_now, sizeof main_now);
    VYRE_CHECK(strcmp(main_now, main_msg) == 0);

    VYRE_CHECK_STATUS(vyre_megakernel_epoch(NULL, &epoch), VYRE_E_NULL_POINTER);
    last_error(main_now, sizeof main_now);
    VYRE_CHECK(strstr(main_now, "vyre_megakernel_epoch") != NULL);
    pthread_barrier_wait(&barrier); /* 3 */

    VYRE_CHECK(pthread_join(b, NULL) == 0);
    pthread_barrier_destroy(&barrier);

    /* B started empty although main had failed first. */
    VYRE_CHECK(strcmp(r.before, "") == 0);
    /* B's message is about B's call... */
    VYRE_CHECK(strstr(r.mine, "vyre_megakernel_create") != NULL);
    VYRE_CHECK(strstr(r.mine, "flags") != NULL);
    /* ...and stayed so after main's second failure. */
    VYRE_CHECK(strcmp(r.after, r.mine) == 0);
    /* Main's message is still its own. */
    last_error(main_now, sizeof main_now);
    VYRE_CHECK(strstr(main_now, "vyre_megakernel_epoch") != NULL);
}

int main(void)
{
    test_status_strings();
    test_last_error_message();
    test_thread_local();
    printf("test_status: ok\n");
    return 0;
}
