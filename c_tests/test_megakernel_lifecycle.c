/* Lifecycle of a megakernel: destroy with work in flight (no hang, no
 * leak), shutdown with and without time to drain, many create/destroy
 * cycles, several megakernels at once, and tickets across slot reuse (an
 * outcome, DONE or FAULT, is remembered one generation back, then the
 * ticket expires). VYRE_TEST_SCALE=small shrinks the loops. */
#undef NDEBUG
#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

#define FOREVER VYRE_WAIT_FOREVER
#define COPY_OBS 4096u /* two MEMCPY_MAX_WORDS spans and room to spare */

static vyre_megakernel *create(uint32_t slots, uint32_t workers, uint32_t observables,
                               uint32_t tenants)
{
    return vyre_test_create(VYRE_BACKEND_AUTO, slots, workers, observables, tenants, 0);
}

static void get_stats(vyre_megakernel *mk, struct vyre_megakernel_stats *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, s));
}

static uint32_t obs(vyre_megakernel *mk, uint32_t index)
{
    uint32_t value = 0;
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, index, &value, 1));
    return value;
}

static vyre_ticket publish(vyre_megakernel *mk, uint32_t opcode, const uint32_t *args, size_t n)
{
    vyre_ticket t;
    vyre_status st;
    while ((st = vyre_megakernel_publish(mk, opcode, 0, args, n, &t)) == VYRE_E_QUEUE_FULL) {
        sched_yield();
    }
    VYRE_CHECK_OK(st);
    return t;
}

/* Publish without retrying; returns how many got in (up to `max`). */
static unsigned publish_until_full(vyre_megakernel *mk, uint32_t opcode, const uint32_t *args,
                                   size_t n, unsigned max)
{
    unsigned i;
    vyre_ticket t;
    for (i = 0; i < max; i++) {
        vyre_status st = vyre_megakernel_publish(mk, opcode, 0, args, n, &t);
        if (st == VYRE_E_QUEUE_FULL) {
            break;
        }
        VYRE_CHECK_OK(st);
    }
    return i;
}

/* ------------------------------------------------ destroy with work left */

static void test_destroy_in_flight(unsigned rounds)
{
    const uint32_t add[2] = {0, 1};
    const uint32_t copy[3] = {0, VYRE_MEMCPY_MAX_WORDS, VYRE_MEMCPY_MAX_WORDS};
    unsigned r, published = 0;

    for (r = 0; r < rounds; r++) {
        /* A tiny ring and many workers, destroyed at once. */
        vyre_megakernel *mk = create(4, 16, 16, 1);
        published += publish_until_full(mk, VYRE_OP_ATOMIC_ADD, add, 2, 64);
        vyre_megakernel_destroy(mk);

        /* A big ring full of slow slots (1024-word copies). */
        mk = create(1024, 2, COPY_OBS, 1);
        published += publish_until_full(mk, VYRE_OP_MEMCPY, copy, 3, 1000);
        vyre_megakernel_destroy(mk);

        /* A batch whose fence is still waiting on its members. */
        mk = create(64, 4, COPY_OBS, 1);
        {
            vyre_slot_request reqs[32];
            vyre_ticket fence;
            unsigned i;
            memset(reqs, 0, sizeof reqs);
            for (i = 0; i < 32; i++) {
                reqs[i].opcode = VYRE_OP_MEMCPY;
                reqs[i].arg_count = 3;
                memcpy(reqs[i].args, copy, sizeof copy);
            }
            VYRE_CHECK_OK(vyre_megakernel_publish_batch(mk, reqs, 32, 0, NULL, &fence));
            published += 33;
        }
        vyre_megakernel_destroy(mk);

        /* Destroy right after create, and right after a SHUTDOWN slot. */
        vyre_megakernel_destroy(create(0, 0, 0, 0));
        mk = create(8, 3, 16, 1);
        publish(mk, VYRE_OP_SHUTDOWN, NULL, 0);
        published++;
        vyre_megakernel_destroy(mk);
    }
    printf("destroy with work in flight: %u rounds, %u slots published\n", rounds, published);
}

/* -------------------------------------------------------------- shutdown */

static void test_shutdown_drains(unsigned count)
{
    vyre_megakernel *mk = create(256, 4, 16, 1);
    const uint32_t add[2] = {3, 1};
    struct vyre_megakernel_stats s;
    unsigned i;
    vyre_ticket last = {0, 0};

    for (i = 0; i < count; i++) {
        last = publish(mk, VYRE_OP_ATOMIC_ADD, add, 2);
    }
    /* Enough time: everything finishes, nothing is cancelled. */
    VYRE_CHECK_OK(vyre_megakernel_shutdown(mk, 60000));
    VYRE_CHECK(obs(mk, 3) == count);
    get_stats(mk, &s);
    VYRE_CHECK(s.published_count == count && s.done_count == count);
    VYRE_CHECK(s.fault_count == 0 && s.cancelled_count == 0);
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, last, 0));
    VYRE_CHECK_STATUS(vyre_megakernel_shutdown(mk, 60000), VYRE_E_SHUTDOWN);
    vyre_megakernel_destroy(mk);

    /* An idle megakernel shuts down OK even with no time to drain. */
    mk = create(8, 2, 16, 1);
    VYRE_CHECK_OK(vyre_megakernel_shutdown(mk, 0));
    vyre_megakernel_destroy(mk);
}

/* No time to drain a ring full of slow slots: each one either ran or was
 * cancelled, every ticket says which (never TIMEOUT), and the counts agree. */
static void test_shutdown_cancels(unsigned count, int wait_first)
{
    vyre_megakernel *mk = create(1024, 2, COPY_OBS, 1);
    const uint32_t copy[3] = {0, VYRE_MEMCPY_MAX_WORDS, VYRE_MEMCPY_MAX_WORDS};
    vyre_ticket *tickets = calloc(count, sizeof *tickets);
    struct vyre_megakernel_stats s;
    unsigned i, ran = 0, cancelled = 0;
    vyre_status st, down;

    VYRE_CHECK(tickets != NULL && count <= 1024);
    for (i = 0; i < count; i++) {
        tickets[i] = publish(mk, VYRE_OP_MEMCPY, copy, 3);
    }
    if (wait_first) {
        /* The workers are surely awake: the first slot has run. */
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, tickets[0], FOREVER));
    }
    down = vyre_megakernel_shutdown(mk, 0);
    VYRE_CHECK_STATUS_EITHER(down, VYRE_OK, VYRE_E_CANCELLED);
    if (down == VYRE_E_CANCELLED) {
        char message[512];
        VYRE_CHECK_OK(vyre_last_error_message(message, sizeof message, NULL));
        VYRE_CHECK(strstr(message, "vyre_megakernel_shutdown") != NULL);
    }
    for (i = 0; i < count; i++) {
        st = vyre_megakernel_wait(mk, tickets[i], 0);
        VYRE_CHECK_STATUS_EITHER(st, VYRE_OK, VYRE_E_CANCELLED);
        if (st == VYRE_OK) {
            ran++;
        } else {
            cancelled++;
        }
    }
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, 0));
    get_stats(mk, &s);
    VYRE_CHECK(s.published_count == count);
    VYRE_CHECK(s.done_count == ran);
    VYRE_CHECK(s.cancelled_count == cancelled);
    VYRE_CHECK(s.fault_count == 0);
    VYRE_CHECK(ran >= (wait_first ? 1u : 0u));
    VYRE_CHECK((down == VYRE_OK) == (cancelled == 0));
    printf("shutdown without drain: %u slots, %u ran, %u cancelled\n", count, ran, cancelled);
    free(tickets);
    vyre_megakernel_destroy(mk);
}

/* Publishers keep going while another thread shuts down with time to
 * drain: each publish either got in (and then ran) or was refused with
 * VYRE_E_SHUTDOWN; shutdown reports OK (nothing cancelled). Two threads
 * shutting down at once: one does it, the other gets VYRE_E_SHUTDOWN. */
struct racer {
    vyre_megakernel *mk;
    uint32_t id;
    unsigned accepted;
    vyre_ticket last; /* last accepted slot */
    vyre_status result;
};

static void *racing_publisher(void *arg)
{
    struct racer *r = arg;
    const uint32_t add[2] = {r->id, 1};
    vyre_ticket t;
    vyre_status st;
    for (;;) {
        st = vyre_megakernel_publish(r->mk, VYRE_OP_ATOMIC_ADD, 0, add, 2, &t);
        if (st == VYRE_E_SHUTDOWN) {
            break;
        }
        if (st == VYRE_E_QUEUE_FULL) {
            sched_yield();
            continue;
        }
        VYRE_CHECK_OK(st);
        r->accepted++;
        r->last = t;
    }
    return NULL;
}

static void *racing_shutdown(void *arg)
{
    struct racer *r = arg;
    r->result = vyre_megakernel_shutdown(r->mk, FOREVER);
    return NULL;
}

static void test_shutdown_races(unsigned rounds)
{
    unsigned round;
    for (round = 0; round < rounds; round++) {
        vyre_megakernel *mk = create(32, 2, 8, 1);
        struct racer pubs[4], downs[2];
        pthread_t pub_threads[4], down_threads[2];
        struct vyre_megakernel_stats s;
        uint32_t values[4];
        unsigned i, accepted = 0;

        for (i = 0; i < 4; i++) {
            memset(&pubs[i], 0, sizeof pubs[i]);
            pubs[i].mk = mk;
            pubs[i].id = i;
            VYRE_CHECK(pthread_create(&pub_threads[i], NULL, racing_publisher, &pubs[i]) == 0);
        }
        /* Let the publishers get going, then two shutdowns at once. */
        while (1) {
            get_stats(mk, &s);
            if (s.done_count >= 100) {
                break;
            }
            sched_yield();
        }
        for (i = 0; i < 2; i++) {
            memset(&downs[i], 0, sizeof downs[i]);
            downs[i].mk = mk;
            VYRE_CHECK(pthread_create(&down_threads[i], NULL, racing_shutdown, &downs[i]) == 0);
        }
        for (i = 0; i < 2; i++) {
            VYRE_CHECK(pthread_join(down_threads[i], NULL) == 0);
        }
        for (i = 0; i < 4; i++) {
            VYRE_CHECK(pthread_join(pub_threads[i], NULL) == 0);
            accepted += pubs[i].accepted;
        }
        /* Exactly one shutdown did the work, with nothing cancelled. */
        VYRE_CHECK((downs[0].result == VYRE_OK && downs[1].result == VYRE_E_SHUTDOWN) ||
                   (downs[1].result == VYRE_OK && downs[0].result == VYRE_E_SHUTDOWN));
        get_stats(mk, &s);
        VYRE_CHECK(s.published_count == accepted);
        VYRE_CHECK(s.done_count == accepted);
        VYRE_CHECK(s.cancelled_count == 0 && s.fault_count == 0);
        VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 0, values, 4));
        for (i = 0; i < 4; i++) {
            VYRE_CHECK(values[i] == pubs[i].accepted);
            /* Each thread's last accepted slot ran before shutdown returned
             * (unless two later publications reused its slot). */
            if (pubs[i].accepted > 0) {
                VYRE_CHECK_STATUS_EITHER(vyre_megakernel_wait(mk, pubs[i].last, 0), VYRE_OK,
                                         VYRE_E_TICKET_EXPIRED);
            }
        }
        vyre_megakernel_destroy(mk);
    }
}

/* ------------------------------------------------------- create/destroy */

static void test_create_destroy_loop(unsigned rounds)
{
    unsigned r;
    for (r = 0; r < rounds; r++) {
        const uint32_t slots = 1u + r % 7, workers = 1u + r % 5, tenants = 1u + r % 3;
        vyre_megakernel *mk = create(slots, workers, 30, tenants);
        const uint32_t store[2] = {r % 10, r + 1};
        struct vyre_megakernel_stats s;
        vyre_ticket t;
        VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, tenants - 1, store, 2, &t));
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
        VYRE_CHECK(obs(mk, (tenants - 1) * (30 / tenants) + r % 10) == r + 1);
        get_stats(mk, &s);
        VYRE_CHECK(s.slot_count == slots && s.worker_count == workers && s.tenant_count == tenants);
        if (r % 2 == 0) {
            VYRE_CHECK_OK(vyre_megakernel_shutdown(mk, FOREVER));
        }
        vyre_megakernel_destroy(mk);
    }
}

/* Several megakernels at once do not share anything. */
static void test_independent_megakernels(void)
{
    vyre_megakernel *mks[3];
    uint32_t metrics[VYRE_METRIC_COUNT];
    unsigned i;
    for (i = 0; i < 3; i++) {
        mks[i] = create(8, 1 + i, 8, 1);
    }
    for (i = 0; i < 3; i++) {
        const uint32_t store[2] = {i, 100 + i};
        unsigned k;
        for (k = 0; k <= i; k++) {
            VYRE_CHECK_OK(vyre_megakernel_wait(mks[i], publish(mks[i], VYRE_OP_STORE_U32, store, 2),
                                               FOREVER));
        }
    }
    VYRE_CHECK_OK(vyre_megakernel_shutdown(mks[1], FOREVER));
    for (i = 0; i < 3; i++) {
        unsigned k;
        for (k = 0; k < 3; k++) {
            VYRE_CHECK(obs(mks[i], k) == (k == i ? 100 + i : 0));
        }
        VYRE_CHECK_OK(vyre_megakernel_read_metrics(mks[i], metrics, VYRE_METRIC_COUNT));
        VYRE_CHECK(metrics[VYRE_METRIC_STORE_U32] == i + 1);
    }
    /* Shutting one down leaves the others running. */
    VYRE_CHECK_OK(vyre_megakernel_wait(mks[2], publish(mks[2], VYRE_OP_NOP, NULL, 0), FOREVER));
    for (i = 0; i < 3; i++) {
        vyre_megakernel_destroy(mks[i]);
    }
}

/* ------------------------------------------------------ tickets on reuse */

static void test_ticket_reuse(void)
{
    vyre_megakernel *mk = create(1, 1, 4, 1);
    const uint32_t store[2] = {0, 7}, bad[2] = {4, 7};
    vyre_ticket a, f, t, never;
    unsigned i;

    /* Outcomes, DONE and FAULT alike, stay answerable until the slot has
     * been reused VYRE_TICKET_HISTORY times. */
    a = publish(mk, VYRE_OP_STORE_U32, store, 2);
    VYRE_CHECK(a.slot == 0 && a.generation != 0);
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, a, FOREVER));
    f = publish(mk, VYRE_OP_STORE_U32, bad, 2);
    VYRE_CHECK(f.slot == 0 && f.generation == a.generation + 1);
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, f, FOREVER), VYRE_E_SLOT_FAULT);
    for (i = 0; i + 2 < VYRE_TICKET_HISTORY; i++) {
        t = publish(mk, VYRE_OP_STORE_U32, store, 2);
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
    }
    /* a's slot has been reused VYRE_TICKET_HISTORY - 1 times. */
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, a, 0));
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, f, 0), VYRE_E_SLOT_FAULT);
    t = publish(mk, VYRE_OP_STORE_U32, store, 2);
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, a, FOREVER), VYRE_E_TICKET_EXPIRED);
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, a, 0), VYRE_E_TICKET_EXPIRED);
    {
        char message[512];
        VYRE_CHECK_OK(vyre_last_error_message(message, sizeof message, NULL));
        VYRE_CHECK(strstr(message, "vyre_megakernel_wait") != NULL);
    }
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, f, FOREVER), VYRE_E_SLOT_FAULT);
    t = publish(mk, VYRE_OP_STORE_U32, store, 2);
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, f, FOREVER), VYRE_E_TICKET_EXPIRED);

    /* A generation the slot has not reached was never issued. */
    never = t;
    never.generation = t.generation + 1;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, never, 0), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(obs(mk, 0) == 7);
    vyre_megakernel_destroy(mk);

    /* The same with a larger ring, around the wrap. */
    mk = create(3, 2, 4, 1);
    {
        vyre_ticket seq[3 * (VYRE_TICKET_HISTORY + 1)];
        const unsigned n = 3 * (VYRE_TICKET_HISTORY + 1);
        for (i = 0; i < n; i++) {
            seq[i] = publish(mk, VYRE_OP_STORE_U32, store, 2);
            VYRE_CHECK_OK(vyre_megakernel_wait(mk, seq[i], FOREVER));
        }
        /* Sequential waits keep the ring in order: seq[i] uses slot i % 3,
         * and only the first lap has been reused VYRE_TICKET_HISTORY times. */
        for (i = 0; i < n; i++) {
            VYRE_CHECK(seq[i].slot == i % 3 && seq[i].generation == i / 3 + 1);
            VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, seq[i], 0),
                              i >= 3 ? VYRE_OK : VYRE_E_TICKET_EXPIRED);
        }
    }
    vyre_megakernel_destroy(mk);
}

int main(void)
{
    test_ticket_reuse();
    test_independent_megakernels();
    test_create_destroy_loop(vyre_test_scaled(50, 10));
    test_shutdown_drains(vyre_test_scaled(5000, 300));
    test_shutdown_races(vyre_test_scaled(20, 3));
    test_shutdown_cancels(vyre_test_scaled(1000, 100), 0);
    test_shutdown_cancels(vyre_test_scaled(1000, 100), 1);
    test_destroy_in_flight(vyre_test_scaled(10, 2));
    printf("test_megakernel_lifecycle: ok\n");
    return 0;
}
