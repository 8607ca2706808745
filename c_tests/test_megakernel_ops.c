/* What every opcode does, through the C API on the reference backend:
 * STORE_U32, ATOMIC_ADD, LOAD_U32, COMPARE_SWAP, MEMCPY, PRINTF, PACKED_SLOT,
 * BATCH_FENCE (alone and closing publish_batch), tenant windows, tenant
 * opcodes and SHUTDOWN. Each megakernel keeps an expected copy of every
 * metric bucket and counter, compared with read_metrics and stats after
 * each step, and faulted slots are checked to change no observable. */
#undef NDEBUG
#include <assert.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

#define FOREVER VYRE_WAIT_FOREVER
#define MAX_OBS 64u

/* A megakernel plus what its counters should read. */
struct mk {
    vyre_megakernel *mk;
    uint32_t observables;
    uint32_t metrics[VYRE_METRIC_COUNT];
    uint64_t published;
    uint32_t done;
    uint32_t faults;
    uint32_t epoch;
};

static void mk_create(struct mk *m, uint32_t slots, uint32_t observables, uint32_t tenants,
                      uint32_t log_capacity)
{
    memset(m, 0, sizeof *m);
    m->mk = vyre_test_create(VYRE_BACKEND_AUTO, slots, 2, observables, tenants, log_capacity);
    m->observables = observables;
}

static void get_stats(struct mk *m, struct vyre_megakernel_stats *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(m->mk, s));
}

/* Every metric bucket, the epoch and the stats agree with the model. */
static void check_counters(struct mk *m)
{
    uint32_t metrics[VYRE_METRIC_COUNT];
    uint32_t epoch = 0;
    struct vyre_megakernel_stats s;
    unsigned i;

    VYRE_CHECK_OK(vyre_megakernel_wait_idle(m->mk, FOREVER));
    VYRE_CHECK_OK(vyre_megakernel_read_metrics(m->mk, metrics, VYRE_METRIC_COUNT));
    for (i = 0; i < VYRE_METRIC_COUNT; i++) {
        if (metrics[i] != m->metrics[i]) {
            fprintf(stderr, "metric %u is %u, expected %u\n", i, metrics[i], m->metrics[i]);
            VYRE_CHECK(!"metrics match what was published");
        }
    }
    VYRE_CHECK_OK(vyre_megakernel_epoch(m->mk, &epoch));
    VYRE_CHECK(epoch == m->epoch);
    get_stats(m, &s);
    if (s.published_count != m->published || s.done_count != m->done ||
        s.fault_count != m->faults || s.epoch != m->epoch) {
        fprintf(stderr,
                "stats: published %llu done %u faults %u epoch %u; expected %llu %u %u %u\n",
                (unsigned long long)s.published_count, s.done_count, s.fault_count, s.epoch,
                (unsigned long long)m->published, m->done, m->faults, m->epoch);
        VYRE_CHECK(!"stats match what was published");
    }
    VYRE_CHECK(s.cancelled_count == 0);
    VYRE_CHECK(s.lane_count >= s.worker_count);
    VYRE_CHECK(s.fault_count == metrics[VYRE_METRIC_FAULT]);
}

static vyre_ticket publish(struct mk *m, uint32_t opcode, uint32_t tenant, const uint32_t *args,
                           size_t n)
{
    vyre_ticket t;
    vyre_status st;
    while ((st = vyre_megakernel_publish(m->mk, opcode, tenant, args, n, &t)) == VYRE_E_QUEUE_FULL) {
        sched_yield();
    }
    VYRE_CHECK_OK(st);
    VYRE_CHECK(t.generation != 0);
    m->published++;
    return t;
}

/* Publish one slot, wait for it, expect DONE counted in `metric`. */
static void run_ok(struct mk *m, uint32_t opcode, uint32_t tenant, const uint32_t *args, size_t n,
                   uint32_t metric)
{
    vyre_ticket t = publish(m, opcode, tenant, args, n);
    VYRE_CHECK_OK(vyre_megakernel_wait(m->mk, t, FOREVER));
    m->metrics[metric]++;
    m->done++;
}

/* Publish one slot, wait for it, expect a fault that changed no observable. */
static void run_fault(struct mk *m, uint32_t opcode, uint32_t tenant, const uint32_t *args,
                      size_t n)
{
    uint32_t before[MAX_OBS], after[MAX_OBS];
    char message[512];
    vyre_ticket t;

    VYRE_CHECK(m->observables <= MAX_OBS);
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(m->mk, FOREVER));
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m->mk, 0, before, m->observables));
    t = publish(m, opcode, tenant, args, n);
    VYRE_CHECK_STATUS(vyre_megakernel_wait(m->mk, t, FOREVER), VYRE_E_SLOT_FAULT);
    VYRE_CHECK_OK(vyre_last_error_message(message, sizeof message, NULL));
    VYRE_CHECK(strstr(message, "vyre_megakernel_wait") != NULL);
    VYRE_CHECK(strstr(message, "fault") != NULL);
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m->mk, 0, after, m->observables));
    VYRE_CHECK(memcmp(before, after, m->observables * sizeof(uint32_t)) == 0);
    m->metrics[VYRE_METRIC_FAULT]++;
    m->faults++;
}

static uint32_t obs(struct mk *m, uint32_t index)
{
    uint32_t value = 0;
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m->mk, index, &value, 1));
    return value;
}

static void store(struct mk *m, uint32_t tenant, uint32_t index, uint32_t value)
{
    uint32_t args[2];
    args[0] = index;
    args[1] = value;
    run_ok(m, VYRE_OP_STORE_U32, tenant, args, 2, VYRE_METRIC_STORE_U32);
}

/* ------------------------------------------------- plain data operations */

static void test_data_ops(void)
{
    struct mk m;
    uint32_t a[VYRE_SLOT_MAX_ARGS];
    uint32_t all[MAX_OBS];
    unsigned i;

    mk_create(&m, 16, MAX_OBS, 1, 0);
    check_counters(&m);

    /* NOP */
    run_ok(&m, VYRE_OP_NOP, 0, NULL, 0, VYRE_METRIC_NOP);
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m.mk, 0, all, MAX_OBS));
    for (i = 0; i < MAX_OBS; i++) {
        VYRE_CHECK(all[i] == 0);
    }

    /* STORE_U32: window[a0] = a1. */
    store(&m, 0, 0, 11);
    store(&m, 0, MAX_OBS - 1, 0xFFFFFFFFu);
    VYRE_CHECK(obs(&m, 0) == 11 && obs(&m, MAX_OBS - 1) == 0xFFFFFFFFu);
    store(&m, 0, 0, 12); /* overwrite */
    VYRE_CHECK(obs(&m, 0) == 12);
    a[0] = MAX_OBS;
    a[1] = 1;
    run_fault(&m, VYRE_OP_STORE_U32, 0, a, 2);
    a[0] = UINT32_MAX;
    run_fault(&m, VYRE_OP_STORE_U32, 0, a, 2);
    check_counters(&m);

    /* ATOMIC_ADD: window[a0] += a1, wrapping. */
    a[0] = 1;
    a[1] = 5;
    run_ok(&m, VYRE_OP_ATOMIC_ADD, 0, a, 2, VYRE_METRIC_ATOMIC_ADD);
    run_ok(&m, VYRE_OP_ATOMIC_ADD, 0, a, 2, VYRE_METRIC_ATOMIC_ADD);
    VYRE_CHECK(obs(&m, 1) == 10);
    a[0] = MAX_OBS - 1;
    a[1] = 2;
    run_ok(&m, VYRE_OP_ATOMIC_ADD, 0, a, 2, VYRE_METRIC_ATOMIC_ADD);
    VYRE_CHECK(obs(&m, MAX_OBS - 1) == 1);
    a[0] = 1;
    a[1] = 0xFFFFFFFFu; /* adding -1 */
    run_ok(&m, VYRE_OP_ATOMIC_ADD, 0, a, 2, VYRE_METRIC_ATOMIC_ADD);
    VYRE_CHECK(obs(&m, 1) == 9);
    a[0] = MAX_OBS;
    run_fault(&m, VYRE_OP_ATOMIC_ADD, 0, a, 2);
    check_counters(&m);

    /* LOAD_U32: window[a1] = window[a0]. */
    a[0] = 0;
    a[1] = 2;
    run_ok(&m, VYRE_OP_LOAD_U32, 0, a, 2, VYRE_METRIC_LOAD_U32);
    VYRE_CHECK(obs(&m, 2) == 12 && obs(&m, 0) == 12);
    a[0] = MAX_OBS;
    a[1] = 2;
    run_fault(&m, VYRE_OP_LOAD_U32, 0, a, 2);
    a[0] = 0;
    a[1] = MAX_OBS;
    run_fault(&m, VYRE_OP_LOAD_U32, 0, a, 2);
    check_counters(&m);

    /* COMPARE_SWAP: old = CAS(window[a0], a1 -> a2); window[a3] = old. */
    store(&m, 0, 3, 100);
    a[0] = 3;
    a[1] = 100;
    a[2] = 200;
    a[3] = 4;
    run_ok(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4, VYRE_METRIC_COMPARE_SWAP); /* succeeds */
    VYRE_CHECK(obs(&m, 3) == 200 && obs(&m, 4) == 100);
    a[2] = 300;
    a[3] = 5;
    run_ok(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4, VYRE_METRIC_COMPARE_SWAP); /* fails: 200 != 100 */
    VYRE_CHECK(obs(&m, 3) == 200 && obs(&m, 5) == 200);
    /* No result observable: only the target changes, on success. */
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m.mk, 0, all, MAX_OBS));
    a[1] = 200;
    a[2] = 7;
    a[3] = VYRE_NO_OBSERVABLE;
    run_ok(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4, VYRE_METRIC_COMPARE_SWAP);
    all[3] = 7;
    for (i = 0; i < MAX_OBS; i++) {
        VYRE_CHECK(obs(&m, i) == all[i]);
    }
    a[1] = 12345; /* fails, nothing written */
    run_ok(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4, VYRE_METRIC_COMPARE_SWAP);
    for (i = 0; i < MAX_OBS; i++) {
        VYRE_CHECK(obs(&m, i) == all[i]);
    }
    /* A result index outside the window faults before the swap. */
    a[1] = 7;
    a[2] = 8;
    a[3] = MAX_OBS;
    run_fault(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4);
    a[0] = MAX_OBS;
    a[3] = 4;
    run_fault(&m, VYRE_OP_COMPARE_SWAP, 0, a, 4);
    VYRE_CHECK(obs(&m, 3) == 7);
    check_counters(&m);

    /* MEMCPY: a2 words from window[a0..] to window[a1..]. */
    for (i = 0; i < 4; i++) {
        store(&m, 0, 10 + i, 1000 + i);
    }
    a[0] = 10;
    a[1] = 20;
    a[2] = 4;
    run_ok(&m, VYRE_OP_MEMCPY, 0, a, 3, VYRE_METRIC_MEMCPY);
    for (i = 0; i < 4; i++) {
        VYRE_CHECK(obs(&m, 20 + i) == 1000 + i);
    }
    VYRE_CHECK(obs(&m, 24) == 0 && obs(&m, 19) == 0);
    a[1] = 14; /* adjacent, not overlapping */
    run_ok(&m, VYRE_OP_MEMCPY, 0, a, 3, VYRE_METRIC_MEMCPY);
    for (i = 0; i < 4; i++) {
        VYRE_CHECK(obs(&m, 14 + i) == 1000 + i);
    }
    /* Overlap either way faults and copies nothing. */
    a[1] = 12;
    run_fault(&m, VYRE_OP_MEMCPY, 0, a, 3);
    a[0] = 12;
    a[1] = 10;
    run_fault(&m, VYRE_OP_MEMCPY, 0, a, 3);
    a[1] = 12; /* onto itself */
    run_fault(&m, VYRE_OP_MEMCPY, 0, a, 3);
    /* Spans leaving the window fault. */
    a[0] = MAX_OBS - 2;
    a[1] = 30;
    a[2] = 3;
    run_fault(&m, VYRE_OP_MEMCPY, 0, a, 3);
    a[0] = 30;
    a[1] = MAX_OBS - 2;
    run_fault(&m, VYRE_OP_MEMCPY, 0, a, 3);
    /* Zero words: done, nothing changes. */
    VYRE_CHECK_OK(vyre_megakernel_read_observables(m.mk, 0, all, MAX_OBS));
    a[0] = 10;
    a[1] = 10;
    a[2] = 0;
    run_ok(&m, VYRE_OP_MEMCPY, 0, a, 3, VYRE_METRIC_MEMCPY);
    for (i = 0; i < MAX_OBS; i++) {
        VYRE_CHECK(obs(&m, i) == all[i]);
    }
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* ---------------------------------------------------------------- PRINTF */

static void test_printf(void)
{
    struct mk m;
    uint32_t a[VYRE_SLOT_MAX_ARGS];
    vyre_debug_record rec[16];
    size_t count = 0;
    uint32_t dropped = 1234;
    vyre_ticket tickets[10];
    unsigned i, j;
    uint32_t seen = 0;

    mk_create(&m, 16, 8, 1, 16);

    a[0] = 100;
    a[1] = 0;
    run_ok(&m, VYRE_OP_PRINTF, 0, a, 2, VYRE_METRIC_PRINTF);
    a[0] = 101;
    a[1] = 3;
    a[2] = 7;
    a[3] = 8;
    a[4] = 9;
    a[5] = 55; /* beyond the value count: not recorded */
    run_ok(&m, VYRE_OP_PRINTF, 0, a, 6, VYRE_METRIC_PRINTF);
    a[0] = 102;
    a[1] = VYRE_PRINTF_MAX_VALUES;
    for (i = 0; i < VYRE_PRINTF_MAX_VALUES; i++) {
        a[2 + i] = 0xF0000000u + i;
    }
    run_ok(&m, VYRE_OP_PRINTF, 0, a, 2 + VYRE_PRINTF_MAX_VALUES, VYRE_METRIC_PRINTF);
    run_ok(&m, VYRE_OP_PRINTF, 0, NULL, 0, VYRE_METRIC_PRINTF); /* format 0, no values */

    memset(rec, 0xEE, sizeof rec);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 0, rec, 16, &count, &dropped));
    VYRE_CHECK(count == 4);
    VYRE_CHECK(dropped == 0);
    VYRE_CHECK(rec[0].tenant == 0 && rec[0].format_id == 100 && rec[0].value_count == 0);
    for (i = 0; i < VYRE_PRINTF_MAX_VALUES; i++) {
        VYRE_CHECK(rec[0].values[i] == 0);
    }
    VYRE_CHECK(rec[1].format_id == 101 && rec[1].value_count == 3);
    VYRE_CHECK(rec[1].values[0] == 7 && rec[1].values[1] == 8 && rec[1].values[2] == 9);
    for (i = 3; i < VYRE_PRINTF_MAX_VALUES; i++) {
        VYRE_CHECK(rec[1].values[i] == 0);
    }
    VYRE_CHECK(rec[2].format_id == 102 && rec[2].value_count == VYRE_PRINTF_MAX_VALUES);
    for (i = 0; i < VYRE_PRINTF_MAX_VALUES; i++) {
        VYRE_CHECK(rec[2].values[i] == 0xF0000000u + i);
    }
    VYRE_CHECK(rec[3].format_id == 0 && rec[3].value_count == 0);
    /* Untouched past the count. */
    VYRE_CHECK(rec[4].format_id == 0xEEEEEEEEu);

    /* Paging: a smaller buffer, then onwards from `first`. */
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 0, rec, 1, &count, NULL));
    VYRE_CHECK(count == 1 && rec[0].format_id == 100);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 1, rec, 2, &count, NULL));
    VYRE_CHECK(count == 2 && rec[0].format_id == 101 && rec[1].format_id == 102);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 3, rec, 16, &count, NULL));
    VYRE_CHECK(count == 1 && rec[0].format_id == 0);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 4, rec, 16, &count, NULL));
    VYRE_CHECK(count == 0);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);

    /* Past capacity: 4 records kept, 6 dropped, all 10 slots DONE. */
    mk_create(&m, 16, 8, 1, 4);
    for (i = 0; i < 10; i++) {
        a[0] = 200 + i;
        a[1] = 1;
        a[2] = i;
        tickets[i] = publish(&m, VYRE_OP_PRINTF, 0, a, 3);
    }
    for (i = 0; i < 10; i++) {
        VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, tickets[i], FOREVER));
        m.metrics[VYRE_METRIC_PRINTF]++;
        m.done++;
    }
    memset(rec, 0, sizeof rec);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 0, rec, 16, &count, &dropped));
    VYRE_CHECK(count == 4);
    VYRE_CHECK(dropped == 6);
    /* Four distinct PRINTFs made it, each intact. */
    for (i = 0; i < 4; i++) {
        VYRE_CHECK(rec[i].format_id >= 200 && rec[i].format_id < 210);
        VYRE_CHECK(rec[i].value_count == 1 && rec[i].values[0] == rec[i].format_id - 200);
        for (j = 1; j < VYRE_PRINTF_MAX_VALUES; j++) {
            VYRE_CHECK(rec[i].values[j] == 0);
        }
        VYRE_CHECK((seen & (1u << rec[i].values[0])) == 0);
        seen |= 1u << rec[i].values[0];
    }
    /* More PRINTFs keep counting as dropped. */
    run_ok(&m, VYRE_OP_PRINTF, 0, a, 3, VYRE_METRIC_PRINTF);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 0, NULL, 0, &count, &dropped));
    VYRE_CHECK(count == 0 && dropped == 7);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* ----------------------------------------------------------- PACKED_SLOT */

struct packed_op {
    uint32_t opcode, a, b;
};

/* args[0] = count | op_i << (SHIFT + BITS * i); op i's arguments at
 * args[1 + 2i], args[2 + 2i]. Returns the argument count used. */
static size_t pack(const struct packed_op *ops, unsigned n, uint32_t *args)
{
    unsigned i;
    memset(args, 0, VYRE_SLOT_MAX_ARGS * sizeof *args);
    args[0] = n;
    for (i = 0; i < n; i++) {
        args[0] |= ops[i].opcode << (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i);
        args[1 + 2 * i] = ops[i].a;
        args[2 + 2 * i] = ops[i].b;
    }
    return 1 + 2 * (size_t)n;
}

static void test_packed(void)
{
    struct mk m;
    uint32_t a[VYRE_SLOT_MAX_ARGS];
    size_t n;
    const struct packed_op four[4] = {
        {VYRE_OP_STORE_U32, 30, 5},
        {VYRE_OP_ATOMIC_ADD, 30, 1},
        {VYRE_OP_LOAD_U32, 30, 31},
        {VYRE_OP_NOP, 0, 0},
    };
    const struct packed_op one[1] = {{VYRE_OP_ATOMIC_ADD, 30, 10}};
    const struct packed_op bad_second[2] = {{VYRE_OP_STORE_U32, 32, 9}, {VYRE_OP_STORE_U32, MAX_OBS, 1}};
    const struct packed_op bad_load[1] = {{VYRE_OP_LOAD_U32, 30, MAX_OBS}};

    VYRE_CHECK(VYRE_PACKED_MAX_OPS == 4);
    mk_create(&m, 16, MAX_OBS, 1, 0);

    n = pack(four, 4, a);
    VYRE_CHECK(n == 9);
    run_ok(&m, VYRE_OP_PACKED_SLOT, 0, a, n, VYRE_METRIC_PACKED_SLOT);
    /* The inner operations count in their own buckets (not in done). */
    m.metrics[VYRE_METRIC_STORE_U32]++;
    m.metrics[VYRE_METRIC_ATOMIC_ADD]++;
    m.metrics[VYRE_METRIC_LOAD_U32]++;
    m.metrics[VYRE_METRIC_NOP]++;
    VYRE_CHECK(obs(&m, 30) == 6 && obs(&m, 31) == 6);
    check_counters(&m);

    /* Trailing zero arguments may be sent or left out. */
    n = pack(one, 1, a);
    run_ok(&m, VYRE_OP_PACKED_SLOT, 0, a, n, VYRE_METRIC_PACKED_SLOT);
    m.metrics[VYRE_METRIC_ATOMIC_ADD]++;
    run_ok(&m, VYRE_OP_PACKED_SLOT, 0, a, VYRE_SLOT_MAX_ARGS, VYRE_METRIC_PACKED_SLOT);
    m.metrics[VYRE_METRIC_ATOMIC_ADD]++;
    VYRE_CHECK(obs(&m, 30) == 26);
    check_counters(&m);

    /* One operation out of the window: the whole slot faults, none runs,
     * and no inner bucket counts. */
    n = pack(bad_second, 2, a);
    run_fault(&m, VYRE_OP_PACKED_SLOT, 0, a, n);
    VYRE_CHECK(obs(&m, 32) == 0);
    n = pack(bad_load, 1, a);
    run_fault(&m, VYRE_OP_PACKED_SLOT, 0, a, n);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* ----------------------------------------------------------- BATCH_FENCE */

static void test_fences(void)
{
    struct mk m;
    vyre_slot_request reqs[8];
    vyre_ticket members[8], fence;
    uint32_t a[3];
    unsigned i, batch;

    mk_create(&m, 16, MAX_OBS, 1, 0);
    memset(reqs, 0, sizeof reqs);
    for (i = 0; i < 8; i++) {
        reqs[i].opcode = VYRE_OP_ATOMIC_ADD;
        reqs[i].tenant = 0;
        reqs[i].arg_count = 2;
        reqs[i].args[0] = 40;
        reqs[i].args[1] = 1;
    }

    /* Batches of 8 ADDs, each fence writing the new epoch to 41. */
    for (batch = 1; batch <= 3; batch++) {
        VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, reqs, 8, 41, members, &fence));
        VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
        /* Every member is already DONE when the fence is. */
        for (i = 0; i < 8; i++) {
            VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, members[i], 0));
            VYRE_CHECK(members[i].slot != fence.slot);
        }
        m.epoch++;
        VYRE_CHECK(obs(&m, 41) == m.epoch);
        VYRE_CHECK(obs(&m, 40) == 8 * batch);
        m.published += 9;
        m.done += 9;
        m.metrics[VYRE_METRIC_ATOMIC_ADD] += 8;
        m.metrics[VYRE_METRIC_BATCH_FENCE]++;
        check_counters(&m);
    }

    /* A lone BATCH_FENCE with no members bumps the epoch, writing it to
     * a2 unless that is VYRE_NO_OBSERVABLE. */
    a[0] = 0;
    a[1] = 0;
    a[2] = 42;
    run_ok(&m, VYRE_OP_BATCH_FENCE, 0, a, 3, VYRE_METRIC_BATCH_FENCE);
    m.epoch++;
    VYRE_CHECK(obs(&m, 42) == m.epoch);
    a[2] = VYRE_NO_OBSERVABLE;
    run_ok(&m, VYRE_OP_BATCH_FENCE, 0, a, 3, VYRE_METRIC_BATCH_FENCE);
    m.epoch++;
    VYRE_CHECK(obs(&m, 42) == m.epoch - 1);
    /* A lone fence takes exactly its 3 arguments. */
    {
        vyre_ticket t = {12345, 12345};
        uint32_t four[4] = {0, 0, 42, 0};
        VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, VYRE_OP_BATCH_FENCE, 0, a, 2, &t),
                          VYRE_E_INVALID_ARGUMENT);
        VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, VYRE_OP_BATCH_FENCE, 0, NULL, 0, &t),
                          VYRE_E_INVALID_ARGUMENT);
        VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, VYRE_OP_BATCH_FENCE, 0, four, 4, &t),
                          VYRE_E_INVALID_ARGUMENT);
        VYRE_CHECK(t.slot == 12345 && t.generation == 12345);
    }
    /* An empty batch is a lone fence too. */
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, NULL, 0, 43, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
    m.epoch++;
    m.published++;
    m.done++;
    m.metrics[VYRE_METRIC_BATCH_FENCE]++;
    VYRE_CHECK(obs(&m, 43) == m.epoch);
    check_counters(&m);

    /* A lone fence whose epoch observable is outside the window is
     * refused (OUT_OF_RANGE) or faults when it runs, without bumping the
     * epoch or writing anything either way. */
    {
        uint32_t before[MAX_OBS], after[MAX_OBS];
        vyre_ticket t;
        vyre_status st;
        VYRE_CHECK_OK(vyre_megakernel_read_observables(m.mk, 0, before, MAX_OBS));
        a[2] = MAX_OBS;
        st = vyre_megakernel_publish(m.mk, VYRE_OP_BATCH_FENCE, 0, a, 3, &t);
        VYRE_CHECK_STATUS_EITHER(st, VYRE_OK, VYRE_E_OUT_OF_RANGE);
        if (st == VYRE_OK) {
            m.published++;
            VYRE_CHECK_STATUS(vyre_megakernel_wait(m.mk, t, FOREVER), VYRE_E_SLOT_FAULT);
            m.faults++;
            m.metrics[VYRE_METRIC_FAULT]++;
        }
        VYRE_CHECK_OK(vyre_megakernel_read_observables(m.mk, 0, after, MAX_OBS));
        VYRE_CHECK(memcmp(before, after, sizeof before) == 0);
        check_counters(&m);
    }

    /* A faulted member still finishes: the fence completes after it. */
    reqs[3].opcode = VYRE_OP_STORE_U32;
    reqs[3].args[0] = MAX_OBS; /* out of the window */
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, reqs, 8, 44, members, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
    for (i = 0; i < 8; i++) {
        VYRE_CHECK_STATUS(vyre_megakernel_wait(m.mk, members[i], 0),
                          i == 3 ? VYRE_E_SLOT_FAULT : VYRE_OK);
    }
    m.epoch++;
    VYRE_CHECK(obs(&m, 44) == m.epoch);
    VYRE_CHECK(obs(&m, 40) == 3 * 8 + 7);
    m.published += 9;
    m.done += 8;
    m.faults++;
    m.metrics[VYRE_METRIC_FAULT]++;
    m.metrics[VYRE_METRIC_ATOMIC_ADD] += 7;
    m.metrics[VYRE_METRIC_BATCH_FENCE]++;
    check_counters(&m);

    /* A batch whose epoch observable is outside the tenant's window is
     * refused before anything is published. */
    reqs[3] = reqs[2];
    fence.slot = fence.generation = 12345;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(m.mk, reqs, 8, MAX_OBS, members, &fence),
                      VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK(fence.slot == 12345 && fence.generation == 12345);
    VYRE_CHECK(obs(&m, 40) == 3 * 8 + 7);
    check_counters(&m);

    /* Members of any data opcode, PACKED_SLOT and PRINTF included. */
    memset(reqs, 0, sizeof reqs);
    reqs[0].opcode = VYRE_OP_STORE_U32;
    reqs[0].arg_count = 2;
    reqs[0].args[0] = 50;
    reqs[0].args[1] = 5;
    reqs[1].opcode = VYRE_OP_PACKED_SLOT;
    reqs[1].arg_count = 3;
    reqs[1].args[0] = 1u | ((uint32_t)VYRE_OP_STORE_U32 << VYRE_PACKED_OPCODE_SHIFT);
    reqs[1].args[1] = 51;
    reqs[1].args[2] = 6;
    reqs[2].opcode = VYRE_OP_PRINTF;
    reqs[2].arg_count = 2;
    reqs[3].opcode = VYRE_OP_NOP;
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, reqs, 4, VYRE_NO_OBSERVABLE, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
    VYRE_CHECK(obs(&m, 50) == 5 && obs(&m, 51) == 6);
    m.epoch++;
    m.published += 5;
    m.done += 5;
    m.metrics[VYRE_METRIC_STORE_U32] += 2;
    m.metrics[VYRE_METRIC_PACKED_SLOT]++;
    m.metrics[VYRE_METRIC_PRINTF]++;
    m.metrics[VYRE_METRIC_NOP]++;
    m.metrics[VYRE_METRIC_BATCH_FENCE]++;
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* -------------------------------------------------------- tenant windows */

static void test_tenant_windows(void)
{
    struct mk m;
    uint32_t a[3];
    vyre_slot_request req;
    vyre_ticket fence;

    /* Two tenants: an even split, tenant 0 [0, 32), tenant 1 [32, 64). */
    mk_create(&m, 16, MAX_OBS, 2, 0);
    store(&m, 0, 0, 5);
    store(&m, 1, 0, 7);
    store(&m, 0, 31, 8);
    store(&m, 1, 31, 9);
    VYRE_CHECK(obs(&m, 0) == 5 && obs(&m, 32) == 7 && obs(&m, 31) == 8 && obs(&m, 63) == 9);
    a[0] = 32;
    a[1] = 1;
    run_fault(&m, VYRE_OP_STORE_U32, 1, a, 2);
    run_fault(&m, VYRE_OP_STORE_U32, 0, a, 2);
    a[0] = 0;
    a[1] = 32; /* LOAD into the other tenant's words, as window index 32 */
    run_fault(&m, VYRE_OP_LOAD_U32, 0, a, 2);
    check_counters(&m);

    /* Move tenant 1 to [40, 48). */
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(m.mk, 1, 40, 8));
    store(&m, 1, 0, 10);
    store(&m, 1, 7, 11);
    VYRE_CHECK(obs(&m, 40) == 10 && obs(&m, 47) == 11 && obs(&m, 32) == 7);
    a[0] = 8;
    a[1] = 1;
    run_fault(&m, VYRE_OP_STORE_U32, 1, a, 2);
    a[0] = 0;
    a[1] = 1;
    run_ok(&m, VYRE_OP_LOAD_U32, 1, a, 2, VYRE_METRIC_LOAD_U32);
    VYRE_CHECK(obs(&m, 41) == 10);
    /* A batch of tenant 1 writes its epoch to a window index. */
    memset(&req, 0, sizeof req);
    req.opcode = VYRE_OP_ATOMIC_ADD;
    req.tenant = 1;
    req.arg_count = 2;
    req.args[0] = 2;
    req.args[1] = 3;
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, &req, 1, 3, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
    m.epoch++;
    m.published += 2;
    m.done += 2;
    m.metrics[VYRE_METRIC_ATOMIC_ADD]++;
    m.metrics[VYRE_METRIC_BATCH_FENCE]++;
    VYRE_CHECK(obs(&m, 42) == 3 && obs(&m, 43) == m.epoch);
    /* An empty window: every index faults. */
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(m.mk, 1, 10, 0));
    a[0] = 0;
    a[1] = 1;
    run_fault(&m, VYRE_OP_STORE_U32, 1, a, 2);
    /* Overlapping windows share words. */
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(m.mk, 1, 0, 4));
    store(&m, 1, 2, 99);
    VYRE_CHECK(obs(&m, 2) == 99);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);

    /* Three tenants over 10 observables: windows of 3, word 9 unowned. */
    mk_create(&m, 16, 10, 3, 0);
    store(&m, 2, 2, 1);
    VYRE_CHECK(obs(&m, 8) == 1);
    a[0] = 3;
    a[1] = 1;
    run_fault(&m, VYRE_OP_STORE_U32, 2, a, 2);
    VYRE_CHECK(obs(&m, 9) == 0);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* -------------------------------------------------------- tenant opcodes */

static void test_tenant_opcodes(void)
{
    struct mk m;
    const uint32_t t0_base = VYRE_TENANT_OPCODE_BASE;
    const uint32_t t1_base = VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW;
    const uint32_t t1_store = t1_base + 7, t1_add = t1_base + 9, t1_print = t1_base + 0xFFFF;
    uint32_t a[4];
    vyre_ticket t;
    vyre_slot_request reqs[2];
    vyre_ticket fence;
    vyre_debug_record rec[2];
    size_t count;

    mk_create(&m, 16, MAX_OBS, 2, 8);
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(m.mk, 1, 40, 8));

    /* Registration: own window OK, another tenant's window refused. */
    VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(m.mk, 1, t1_store, VYRE_OP_STORE_U32));
    VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(m.mk, 1, t1_add, VYRE_OP_ATOMIC_ADD));
    VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(m.mk, 1, t1_print, VYRE_OP_PRINTF));
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(m.mk, 1, t0_base + 7, VYRE_OP_STORE_U32),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(m.mk, 0, t1_store + 1, VYRE_OP_STORE_U32),
                      VYRE_E_INVALID_ARGUMENT);

    /* Publishing an unregistered tenant opcode, or another tenant's. */
    a[0] = 0;
    a[1] = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, t1_base + 8, 1, a, 2, &t), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, t1_store, 0, a, 2, &t), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, t0_base + 7, 1, a, 2, &t), VYRE_E_INVALID_ARGUMENT);

    /* The alias runs its built-in in the tenant's window and counts as
     * VYRE_METRIC_TENANT (not as STORE_U32). */
    a[0] = 3;
    a[1] = 77;
    run_ok(&m, t1_store, 1, a, 2, VYRE_METRIC_TENANT);
    VYRE_CHECK(obs(&m, 43) == 77 && obs(&m, 3) == 0);
    a[0] = 3;
    a[1] = 3;
    run_ok(&m, t1_add, 1, a, 2, VYRE_METRIC_TENANT);
    VYRE_CHECK(obs(&m, 43) == 80);
    a[0] = 8; /* outside tenant 1's window */
    run_fault(&m, t1_store, 1, a, 2);
    a[0] = 0x77;
    a[1] = 2;
    a[2] = 1;
    a[3] = 2;
    run_ok(&m, t1_print, 1, a, 4, VYRE_METRIC_TENANT);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(m.mk, 0, rec, 2, &count, NULL));
    VYRE_CHECK(count == 1);
    VYRE_CHECK(rec[0].tenant == 1 && rec[0].format_id == 0x77 && rec[0].value_count == 2);
    VYRE_CHECK(rec[0].values[0] == 1 && rec[0].values[1] == 2);
    check_counters(&m);

    /* Tenant opcodes as batch members. */
    memset(reqs, 0, sizeof reqs);
    reqs[0].opcode = t1_add;
    reqs[0].tenant = 1;
    reqs[0].arg_count = 2;
    reqs[0].args[0] = 4;
    reqs[0].args[1] = 1;
    reqs[1] = reqs[0];
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(m.mk, reqs, 2, 5, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, fence, FOREVER));
    m.epoch++;
    m.published += 3;
    m.done += 3;
    m.metrics[VYRE_METRIC_TENANT] += 2;
    m.metrics[VYRE_METRIC_BATCH_FENCE]++;
    VYRE_CHECK(obs(&m, 44) == 2 && obs(&m, 45) == m.epoch);
    /* A tenant opcode of another tenant in a batch is refused up front. */
    reqs[1].opcode = t0_base + 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(m.mk, reqs, 2, 5, NULL, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    check_counters(&m);
    vyre_megakernel_destroy(m.mk);
}

/* -------------------------------------------------------------- SHUTDOWN */

static void test_shutdown_opcode(void)
{
    struct mk m;
    enum { AFTER = 30 }; /* inside tenant 0's window of 32 */
    vyre_ticket stop, after[AFTER];
    uint32_t a[2];
    unsigned published = 0, i, ran = 0, cancelled = 0;
    vyre_status st;
    uint32_t metrics[VYRE_METRIC_COUNT];
    struct vyre_megakernel_stats s;

    mk_create(&m, 64, MAX_OBS, 2, 0);

    /* Only tenant 0 may stop the megakernel. */
    run_fault(&m, VYRE_OP_SHUTDOWN, 1, NULL, 0);
    store(&m, 1, 0, 1);
    check_counters(&m);

    /* SHUTDOWN, then as many stores as get in before it takes effect. */
    stop = publish(&m, VYRE_OP_SHUTDOWN, 0, NULL, 0);
    for (i = 0; i < AFTER; i++) {
        a[0] = i;
        a[1] = 1000 + i;
        st = vyre_megakernel_publish(m.mk, VYRE_OP_STORE_U32, 0, a, 2, &after[published]);
        if (st == VYRE_E_SHUTDOWN) {
            break;
        }
        VYRE_CHECK_OK(st);
        published++;
    }
    VYRE_CHECK_OK(vyre_megakernel_wait(m.mk, stop, FOREVER));

    /* Afterwards nothing is accepted. */
    a[0] = 0;
    a[1] = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(m.mk, VYRE_OP_STORE_U32, 0, a, 2, &after[0]),
                      VYRE_E_SHUTDOWN);
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(m.mk, NULL, 0, VYRE_NO_OBSERVABLE, NULL, &after[0]),
                      VYRE_E_SHUTDOWN);

    /* Stores published behind it either ran or were cancelled; never a
     * timeout, and a cancelled one left its word alone. */
    for (i = 0; i < published; i++) {
        st = vyre_megakernel_wait(m.mk, after[i], 60000);
        if (st == VYRE_OK) {
            VYRE_CHECK(obs(&m, i) == 1000 + i);
            ran++;
        } else {
            VYRE_CHECK_STATUS(st, VYRE_E_CANCELLED);
            VYRE_CHECK(obs(&m, i) == 0);
            cancelled++;
        }
    }
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(m.mk, 60000));

    VYRE_CHECK_OK(vyre_megakernel_read_metrics(m.mk, metrics, VYRE_METRIC_COUNT));
    VYRE_CHECK(metrics[VYRE_METRIC_SHUTDOWN] == 1);
    VYRE_CHECK(metrics[VYRE_METRIC_STORE_U32] == 1 + ran);
    VYRE_CHECK(metrics[VYRE_METRIC_FAULT] == 1);
    get_stats(&m, &s);
    VYRE_CHECK(s.published_count == m.published + published);
    VYRE_CHECK(s.done_count == m.done + 1 + ran);
    VYRE_CHECK(s.fault_count == 1);
    VYRE_CHECK(s.cancelled_count == cancelled);
    VYRE_CHECK(s.done_count + s.fault_count + s.cancelled_count == s.published_count);
    printf("SHUTDOWN opcode: %u stores published behind it, %u ran, %u cancelled\n", published,
           ran, cancelled);

    /* The megakernel is stopped; vyre_megakernel_shutdown may still find
     * it RUNNING from the host's point of view, but never fails otherwise. */
    st = vyre_megakernel_shutdown(m.mk, 1000);
    VYRE_CHECK(st == VYRE_OK || st == VYRE_E_CANCELLED || st == VYRE_E_SHUTDOWN);
    VYRE_CHECK_STATUS(vyre_megakernel_shutdown(m.mk, 1000), VYRE_E_SHUTDOWN);
    vyre_megakernel_destroy(m.mk);
}

int main(void)
{
    test_data_ops();
    test_printf();
    test_packed();
    test_fences();
    test_tenant_windows();
    test_tenant_opcodes();
    test_shutdown_opcode();
    printf("test_megakernel_ops: ok\n");
    return 0;
}
