/* Helpers shared by the pump's C tests (test_pump.c, test_pump_megakernel.c). */
#ifndef VYRE_PUMP_TEST_H
#define VYRE_PUMP_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include "vyre_test.h"

struct feeder {
    int fd;
    const uint8_t *bytes;
    size_t len;
};

/* A pthread body: writes the bytes in pieces, with pauses, then closes the
 * pipe, so the pump's reads of it come back short and late. */
static inline void *feed(void *arg)
{
    struct feeder *f = arg;
    for (size_t at = 0; at < f->len;) {
        size_t piece = f->len - at < 333 ? f->len - at : 333;
        ssize_t n = write(f->fd, f->bytes + at, piece);
        VYRE_CHECK(n > 0);
        at += (size_t)n;
        usleep(100);
    }
    close(f->fd);
    return NULL;
}

/* Submit with `call`, draining while the pump is full; counts the request
 * in `pending`. The including file defines drain_all(pump, n), which
 * returns how many requests ended. */
#define SUBMIT(pump, call, pending)                                            \
    do {                                                                       \
        vyre_status st_;                                                       \
        while ((st_ = (call)) == VYRE_E_QUEUE_FULL) {                          \
            (pending) -= drain_all(pump, 1);                                   \
        }                                                                      \
        VYRE_CHECK_OK(st_);                                                    \
        (pending)++;                                                           \
    } while (0)

#endif
