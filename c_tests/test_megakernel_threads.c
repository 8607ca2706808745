/* Many publisher threads on one megakernel (reference backend): every slot
 * runs exactly once. Each thread ATOMIC_ADDs 1 to its own observable and
 * to a shared one (one slot each), retrying on VYRE_E_QUEUE_FULL and
 * waiting on old tickets now and then; afterwards the observables, the
 * ATOMIC_ADD metric and the stats must account for every slot. A second
 * part publishes batches from several threads and checks that every fence
 * ran once: the epoch equals the number of batches, and the epochs the
 * fences wrote are exactly 1..batches. Then a tenant window moves while
 * slots run (each slot sees the old or the new window, never a mix), and
 * waiters ask about tickets of a tiny ring that publishers keep reusing
 * (the answer is OK, TIMEOUT or TICKET_EXPIRED, never an internal error).
 * VYRE_TEST_SCALE=small shrinks it. */
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
#define PUBLISHERS 8u
#define SHARED_OBS 100u /* the observable every publisher adds to */
#define HISTORY 64u     /* tickets a publisher remembers */

struct publisher {
    vyre_megakernel *mk;
    uint32_t id;
    unsigned iterations; /* each publishes two slots */
    unsigned queue_full; /* QUEUE_FULL answers seen */
    unsigned expired;    /* old tickets found expired */
};

/* Wait on an old ticket: it finished DONE, or its slot was reused
 * VYRE_TICKET_HISTORY times since by other threads and its outcome is gone.
 * Nothing else. */
static void wait_old(struct publisher *p, vyre_ticket t, uint32_t timeout_ms)
{
    vyre_status st = vyre_megakernel_wait(p->mk, t, timeout_ms);
    if (st == VYRE_E_TICKET_EXPIRED) {
        p->expired++;
    } else if (st != VYRE_E_TIMEOUT || timeout_ms == FOREVER) {
        VYRE_CHECK_OK(st);
    }
}

static vyre_ticket publish_retrying(struct publisher *p, const uint32_t *args,
                                    const vyre_ticket *last)
{
    vyre_ticket t;
    vyre_status st;
    unsigned tries = 0;
    while ((st = vyre_megakernel_publish(p->mk, VYRE_OP_ATOMIC_ADD, 0, args, 2, &t)) ==
           VYRE_E_QUEUE_FULL) {
        p->queue_full++;
        /* Alternate between yielding and a short wait on our last slot. */
        if (last != NULL && (++tries & 1) == 0) {
            wait_old(p, *last, 1);
        } else {
            sched_yield();
        }
    }
    VYRE_CHECK_OK(st);
    VYRE_CHECK(t.generation != 0);
    return t;
}

static void *publisher_main(void *arg)
{
    struct publisher *p = arg;
    vyre_ticket history[HISTORY];
    vyre_ticket last;
    const uint32_t own[2] = {p->id, 1}, shared[2] = {SHARED_OBS, 1};
    unsigned i, n = 0;

    for (i = 0; i < p->iterations; i++) {
        last = publish_retrying(p, own, n > 0 ? &history[(n - 1) % HISTORY] : NULL);
        history[n++ % HISTORY] = last;
        last = publish_retrying(p, shared, &last);
        history[n++ % HISTORY] = last;
        /* Now and then wait for the oldest remembered ticket. */
        if (n >= HISTORY && i % 97 == 0) {
            wait_old(p, history[n % HISTORY], FOREVER);
        }
    }
    wait_old(p, history[(n - 1) % HISTORY], FOREVER);
    return NULL;
}

static vyre_megakernel *create(uint32_t slots, uint32_t workers, uint32_t observables)
{
    return vyre_test_create(VYRE_BACKEND_AUTO, slots, workers, observables, 0, 0);
}

static void test_publishers(uint32_t slots, uint32_t workers, unsigned slots_per_thread)
{
    vyre_megakernel *mk = create(slots, workers, 128);
    struct publisher pubs[PUBLISHERS];
    pthread_t threads[PUBLISHERS];
    uint32_t values[128], metrics[VYRE_METRIC_COUNT];
    struct vyre_megakernel_stats s;
    const unsigned iterations = slots_per_thread / 2;
    const uint64_t total = (uint64_t)PUBLISHERS * iterations * 2;
    unsigned i, queue_full = 0, expired = 0;

    for (i = 0; i < PUBLISHERS; i++) {
        pubs[i].mk = mk;
        pubs[i].id = i;
        pubs[i].iterations = iterations;
        pubs[i].queue_full = 0;
        pubs[i].expired = 0;
        VYRE_CHECK(pthread_create(&threads[i], NULL, publisher_main, &pubs[i]) == 0);
    }
    for (i = 0; i < PUBLISHERS; i++) {
        VYRE_CHECK(pthread_join(threads[i], NULL) == 0);
        queue_full += pubs[i].queue_full;
        expired += pubs[i].expired;
    }
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, FOREVER));

    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 0, values, 128));
    for (i = 0; i < 128; i++) {
        uint32_t expected = i < PUBLISHERS ? iterations
                          : i == SHARED_OBS ? (uint32_t)(PUBLISHERS * iterations)
                                            : 0;
        if (values[i] != expected) {
            fprintf(stderr, "observable %u is %u, expected %u\n", i, values[i], expected);
            VYRE_CHECK(!"every slot ran exactly once");
        }
    }
    VYRE_CHECK_OK(vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT));
    VYRE_CHECK(metrics[VYRE_METRIC_ATOMIC_ADD] == total);
    VYRE_CHECK(metrics[VYRE_METRIC_FAULT] == 0);
    for (i = 0; i < VYRE_METRIC_COUNT; i++) {
        VYRE_CHECK(i == VYRE_METRIC_ATOMIC_ADD || metrics[i] == 0);
    }
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &s));
    VYRE_CHECK(s.published_count == total);
    VYRE_CHECK(s.done_count == total);
    VYRE_CHECK(s.fault_count == 0);
    VYRE_CHECK(s.cancelled_count == 0);
    VYRE_CHECK(s.worker_count == workers);
    printf("%u publishers x %u slots (ring %u, %u workers): %llu slots done, "
           "%u QUEUE_FULL retries, %u expired tickets\n",
           PUBLISHERS, iterations * 2, slots, workers, (unsigned long long)total, queue_full,
           expired);

    VYRE_CHECK_OK(vyre_megakernel_shutdown(mk, FOREVER));
    vyre_megakernel_destroy(mk);
}

/* ---------------------------------------------------------------- batches */

#define BATCHERS 4u
#define MEMBERS 8u
#define EPOCH_BASE 16u /* observables [EPOCH_BASE, ...) receive fence epochs */

struct batcher {
    vyre_megakernel *mk;
    uint32_t id;
    unsigned batches;
    unsigned queue_full;
};

static void *batcher_main(void *arg)
{
    struct batcher *b = arg;
    vyre_slot_request reqs[MEMBERS];
    vyre_ticket members[MEMBERS], fence;
    vyre_status st;
    unsigned i, k;

    memset(reqs, 0, sizeof reqs);
    for (i = 0; i < MEMBERS; i++) {
        reqs[i].opcode = VYRE_OP_ATOMIC_ADD;
        reqs[i].tenant = 0;
        reqs[i].arg_count = 2;
        reqs[i].args[0] = b->id;
        reqs[i].args[1] = 1;
    }
    for (k = 0; k < b->batches; k++) {
        /* Each fence writes the epoch it completed to its own observable. */
        uint32_t epoch_obs = EPOCH_BASE + b->id * b->batches + k;
        while ((st = vyre_megakernel_publish_batch(b->mk, reqs, MEMBERS, epoch_obs, members,
                                                   &fence)) == VYRE_E_QUEUE_FULL) {
            b->queue_full++;
            sched_yield();
        }
        VYRE_CHECK_OK(st);
        if (k % 16 == 0) {
            /* Other threads may reuse even the fence's slot twice first. */
            VYRE_CHECK_STATUS_EITHER(vyre_megakernel_wait(b->mk, fence, FOREVER), VYRE_OK,
                                     VYRE_E_TICKET_EXPIRED);
            for (i = 0; i < MEMBERS; i++) {
                /* DONE (before the fence), or reused VYRE_TICKET_HISTORY times since. */
                VYRE_CHECK_STATUS_EITHER(vyre_megakernel_wait(b->mk, members[i], 0), VYRE_OK,
                                         VYRE_E_TICKET_EXPIRED);
            }
        }
    }
    return NULL;
}

static void test_batches(uint32_t slots, uint32_t workers, unsigned batches_per_thread)
{
    const uint32_t total = BATCHERS * batches_per_thread;
    const uint32_t observables = EPOCH_BASE + total;
    vyre_megakernel *mk = create(slots, workers, observables);
    struct batcher bs[BATCHERS];
    pthread_t threads[BATCHERS];
    uint32_t *values, metrics[VYRE_METRIC_COUNT], epoch = 0;
    unsigned char *seen;
    struct vyre_megakernel_stats s;
    unsigned i, queue_full = 0;

    for (i = 0; i < BATCHERS; i++) {
        bs[i].mk = mk;
        bs[i].id = i;
        bs[i].batches = batches_per_thread;
        bs[i].queue_full = 0;
        VYRE_CHECK(pthread_create(&threads[i], NULL, batcher_main, &bs[i]) == 0);
    }
    for (i = 0; i < BATCHERS; i++) {
        VYRE_CHECK(pthread_join(threads[i], NULL) == 0);
        queue_full += bs[i].queue_full;
    }
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, FOREVER));

    VYRE_CHECK_OK(vyre_megakernel_epoch(mk, &epoch));
    VYRE_CHECK(epoch == total);
    values = calloc(observables, sizeof *values);
    seen = calloc(total + 1, 1);
    VYRE_CHECK(values != NULL && seen != NULL);
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 0, values, observables));
    for (i = 0; i < EPOCH_BASE; i++) {
        VYRE_CHECK(values[i] == (i < BATCHERS ? batches_per_thread * MEMBERS : 0));
    }
    /* The fences wrote each epoch 1..total exactly once. */
    for (i = EPOCH_BASE; i < observables; i++) {
        VYRE_CHECK(values[i] >= 1 && values[i] <= total);
        VYRE_CHECK(!seen[values[i]]);
        seen[values[i]] = 1;
    }
    VYRE_CHECK_OK(vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT));
    VYRE_CHECK(metrics[VYRE_METRIC_BATCH_FENCE] == total);
    VYRE_CHECK(metrics[VYRE_METRIC_ATOMIC_ADD] == total * MEMBERS);
    VYRE_CHECK(metrics[VYRE_METRIC_FAULT] == 0);
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &s));
    VYRE_CHECK(s.epoch == total);
    VYRE_CHECK(s.published_count == (uint64_t)total * (MEMBERS + 1));
    VYRE_CHECK(s.done_count == total * (MEMBERS + 1));
    VYRE_CHECK(s.fault_count == 0 && s.cancelled_count == 0);
    printf("%u batchers x %u batches of %u (ring %u, %u workers): epoch %u, "
           "%u QUEUE_FULL retries\n",
           BATCHERS, batches_per_thread, MEMBERS, slots, workers, epoch, queue_full);
    free(values);
    free(seen);
    vyre_megakernel_destroy(mk);
}

/* ------------------------------------------- waiters racing publishers */

/* Waiters keep asking about the newest ticket of a tiny ring while
 * publishers keep reusing its slots. Whatever the interleaving, a wait on
 * an issued ticket answers OK, TIMEOUT or TICKET_EXPIRED (NOP never
 * faults); anything else (VYRE_E_INTERNAL, say) is a libvyre bug. */
#define RACE_PUBLISHERS 4u
#define RACE_WAITERS 2u

/* Shared between the threads with GCC/Clang __atomic built-ins (no lock,
 * so publishers and waiters really run side by side). */
struct race {
    vyre_megakernel *mk;
    uint64_t newest; /* generation << 32 | slot of the newest ticket; 0 = none */
    int stop;
    unsigned waits_per_waiter;
};

static void *race_publisher(void *arg)
{
    struct race *r = arg;
    vyre_ticket t;
    vyre_status st;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        st = vyre_megakernel_publish(r->mk, VYRE_OP_NOP, 0, NULL, 0, &t);
        if (st == VYRE_OK) {
            __atomic_store_n(&r->newest, (uint64_t)t.generation << 32 | t.slot, __ATOMIC_RELEASE);
        } else if (st == VYRE_E_QUEUE_FULL) {
            sched_yield();
        } else {
            VYRE_CHECK_OK(st);
        }
    }
    return NULL;
}

static void *race_waiter(void *arg)
{
    struct race *r = arg;
    unsigned n = 0;
    while (n < r->waits_per_waiter) {
        uint64_t newest = __atomic_load_n(&r->newest, __ATOMIC_ACQUIRE);
        vyre_ticket t;
        vyre_status st;
        if (newest == 0) {
            sched_yield();
            continue;
        }
        t.slot = (uint32_t)newest;
        t.generation = (uint32_t)(newest >> 32);
        st = vyre_megakernel_wait(r->mk, t, 0);
        if (st != VYRE_OK && st != VYRE_E_TIMEOUT && st != VYRE_E_TICKET_EXPIRED) {
            fprintf(stderr, "wait on issued ticket (slot %u, generation %u) answered %d (%s)\n",
                    t.slot, t.generation, (int)st, vyre_status_str(st));
            VYRE_CHECK(!"a wait on an issued ticket answers OK, TIMEOUT or TICKET_EXPIRED");
        }
        /* Spinning without a pause would starve the workers and the
         * publishers on a machine with few cores. */
        if (++n % 256 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void test_waiters_race_publishers(unsigned waits_per_waiter)
{
    struct race r;
    pthread_t pubs[RACE_PUBLISHERS], waiters[RACE_WAITERS];
    struct vyre_megakernel_stats s;
    unsigned i;

    memset(&r, 0, sizeof r);
    r.mk = create(4, 2, 16);
    r.waits_per_waiter = waits_per_waiter;
    for (i = 0; i < RACE_PUBLISHERS; i++) {
        VYRE_CHECK(pthread_create(&pubs[i], NULL, race_publisher, &r) == 0);
    }
    for (i = 0; i < RACE_WAITERS; i++) {
        VYRE_CHECK(pthread_create(&waiters[i], NULL, race_waiter, &r) == 0);
    }
    for (i = 0; i < RACE_WAITERS; i++) {
        VYRE_CHECK(pthread_join(waiters[i], NULL) == 0);
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < RACE_PUBLISHERS; i++) {
        VYRE_CHECK(pthread_join(pubs[i], NULL) == 0);
    }
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(r.mk, FOREVER));
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(r.mk, &s));
    VYRE_CHECK(s.done_count == s.published_count && s.fault_count == 0);
    printf("%u waiters x %u waits against %u publishers (ring 4): %llu slots done\n",
           RACE_WAITERS, waits_per_waiter, RACE_PUBLISHERS, (unsigned long long)s.published_count);
    vyre_megakernel_destroy(r.mk);
}

/* ------------------------------------------------- window changes racing */

/* One thread moves tenant 1's window back and forth between A = [16, 24)
 * and B = [40, 44) while another keeps adding 1 to window index k % 8.
 * Index 0..3 is valid in both windows, 4..7 only in A. Each slot must use
 * one whole window, old or new, never a mix: every DONE add lands in A or
 * B (so the words of A and B sum to the DONE count), and nothing lands
 * anywhere else (a mixed window, base 40 with length 8, would write
 * 44..47). Slots whose index is outside the window they saw fault. */
#define WIN_A_BASE 16u
#define WIN_A_LEN 8u
#define WIN_B_BASE 40u
#define WIN_B_LEN 4u

struct flipper {
    vyre_megakernel *mk;
    unsigned slots;
    int done;
};

static void *window_adder(void *arg)
{
    struct flipper *f = arg;
    unsigned k;
    for (k = 0; k < f->slots; k++) {
        const uint32_t args[2] = {k % 8, 1};
        vyre_ticket t;
        vyre_status st;
        while ((st = vyre_megakernel_publish(f->mk, VYRE_OP_ATOMIC_ADD, 1, args, 2, &t)) ==
               VYRE_E_QUEUE_FULL) {
            sched_yield();
        }
        VYRE_CHECK_OK(st);
    }
    __atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_window_flips(unsigned slots)
{
    struct flipper f;
    pthread_t adder;
    uint32_t values[64], in_windows = 0;
    struct vyre_megakernel_stats s;
    unsigned i, flips = 0;
    vyre_megakernel_options opts;

    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    opts.slot_count = 64;
    opts.worker_count = 3;
    opts.observable_count = 64;
    opts.tenant_count = 2;
    f.mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &f.mk));
    f.slots = slots;
    f.done = 0;
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(f.mk, 1, WIN_A_BASE, WIN_A_LEN));
    VYRE_CHECK(pthread_create(&adder, NULL, window_adder, &f) == 0);
    while (!__atomic_load_n(&f.done, __ATOMIC_ACQUIRE)) {
        if (flips % 2 == 0) {
            VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(f.mk, 1, WIN_B_BASE, WIN_B_LEN));
        } else {
            VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(f.mk, 1, WIN_A_BASE, WIN_A_LEN));
        }
        flips++;
        sched_yield(); /* let slots run under each window */
    }
    VYRE_CHECK(pthread_join(adder, NULL) == 0);
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(f.mk, FOREVER));

    VYRE_CHECK_OK(vyre_megakernel_read_observables(f.mk, 0, values, 64));
    for (i = 0; i < 64; i++) {
        int in_a = i >= WIN_A_BASE && i < WIN_A_BASE + WIN_A_LEN;
        int in_b = i >= WIN_B_BASE && i < WIN_B_BASE + WIN_B_LEN;
        if (in_a || in_b) {
            in_windows += values[i];
        } else if (values[i] != 0) {
            fprintf(stderr, "observable %u, outside both windows, is %u\n", i, values[i]);
            VYRE_CHECK(!"no slot used a half-old, half-new window");
        }
    }
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(f.mk, &s));
    VYRE_CHECK(s.published_count == slots);
    VYRE_CHECK(s.done_count + s.fault_count == slots);
    VYRE_CHECK(in_windows == s.done_count);
    printf("window flips: %u slots, %u flips, %u done, %u faulted outside the window they saw\n",
           slots, flips, s.done_count, s.fault_count);
    vyre_megakernel_destroy(f.mk);
}

int main(void)
{
    /* 8 x 100 000 slots normally; 8 x 2 000 under valgrind. */
    const unsigned slots_per_thread = vyre_test_scaled(100000, 2000);
    const unsigned batches_per_thread = vyre_test_scaled(2500, 100);

    test_publishers(256, 4, slots_per_thread);
    /* A ring smaller than the publisher count: constant QUEUE_FULL and
     * reuse of every slot by many threads. */
    test_publishers(4, 2, slots_per_thread / 10);
    test_batches(256, 4, batches_per_thread);
    /* A ring that holds only two batches at a time. */
    test_batches(18, 3, batches_per_thread / 5);
    test_window_flips(vyre_test_scaled(50000, 1000));
    test_waiters_race_publishers(vyre_test_scaled(400000, 2000));
    printf("test_megakernel_threads: ok\n");
    return 0;
}
