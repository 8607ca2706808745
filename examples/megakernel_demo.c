/*
 * megakernel_demo: drives a libvyre megakernel from C through <vyre.h> only.
 *
 * It creates a megakernel on the default backend (the resident Vulkan kernel:
 * the GPU, else lavapipe; the reference backend where no Vulkan device
 * exists; VYRE_BACKEND=reference|vulkan overrides), then:
 *   - PUBLISHERS threads each publish a STORE_U32 into their own observable,
 *     ADDS_PER_THREAD ATOMIC_ADDs into a shared counter and one PRINTF,
 *     retrying while the ring is full;
 *   - the main thread publishes BATCHES batches of ATOMIC_ADDs, each closed
 *     by a fence that bumps the epoch and writes it to an observable;
 *   - it waits until everything is done and prints the epoch, the
 *     observables, the per-opcode metrics and the debug log.
 * It computes every expected number itself and exits 1 if the megakernel
 * disagrees. VYRE_TEST_SCALE=small shrinks the loops (used under valgrind).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#define PUBLISHERS 4u
#define BATCHES 3u
#define BATCH_MEMBERS 6u
#define FORMAT_HELLO 7u       /* PRINTF format id used by the publishers */
#define WAIT_MS 30000u

/* Observable layout (tenant 0 owns every observable). */
#define OBS_THREAD_BASE 0u    /* [0, PUBLISHERS): STORE_U32 by thread t   */
#define OBS_COUNTER 8u        /* shared ATOMIC_ADD counter                */
#define OBS_BATCH_SUM 9u      /* ATOMIC_ADD target of the batch members   */
#define OBS_EPOCH 10u         /* written by each batch's fence            */
#define OBS_SHOWN 12u         /* observables printed                      */

static unsigned adds_per_thread = 1000u;
static int failures = 0;

#define CHECK(cond, ...)                                             \
    do {                                                             \
        if (!(cond)) {                                               \
            fprintf(stderr, "megakernel_demo: MISMATCH: " __VA_ARGS__); \
            fputc('\n', stderr);                                     \
            failures++;                                              \
        }                                                            \
    } while (0)

static void die(const char *what, vyre_status st)
{
    char msg[512];
    size_t needed = 0;
    msg[0] = '\0';
    vyre_last_error_message(msg, sizeof msg, &needed);
    fprintf(stderr, "megakernel_demo: %s failed: %s (%" PRId32 "): %s\n", what,
            vyre_status_str(st), st, msg);
    exit(1);
}

/* Publishes one slot, retrying while the ring is full. */
static vyre_ticket publish(vyre_megakernel *mk, uint32_t opcode, const uint32_t *args,
                           size_t arg_count)
{
    vyre_ticket ticket;
    for (;;) {
        vyre_status st = vyre_megakernel_publish(mk, opcode, 0, args, arg_count, &ticket);
        if (st == VYRE_OK) {
            return ticket;
        }
        if (st != VYRE_E_QUEUE_FULL) {
            die("vyre_megakernel_publish", st);
        }
        sched_yield();
    }
}

/* Waits for one ticket. A ticket whose slot was reused VYRE_TICKET_HISTORY
 * times meanwhile (the ring wrapped while this thread was not running) has
 * no recorded outcome: that is not an error here, because the demo checks
 * every slot's effect and the fault count at the end. */
static void wait_ticket(vyre_megakernel *mk, vyre_ticket ticket, const char *what)
{
    vyre_status st = vyre_megakernel_wait(mk, ticket, WAIT_MS);
    if (st == VYRE_E_TICKET_EXPIRED) {
        printf("(%s: ticket expired, the ring wrapped twice meanwhile)\n", what);
        return;
    }
    if (st != VYRE_OK) {
        die(what, st);
    }
}

struct publisher {
    vyre_megakernel *mk;
    uint32_t id;
};

static void *publisher_main(void *arg)
{
    const struct publisher *p = arg;
    vyre_ticket last;
    unsigned i;

    uint32_t store[2] = {OBS_THREAD_BASE + p->id, 1000u + p->id};
    publish(p->mk, VYRE_OP_STORE_U32, store, 2);

    for (i = 0; i < adds_per_thread; i++) {
        uint32_t add[2] = {OBS_COUNTER, p->id + 1u};
        publish(p->mk, VYRE_OP_ATOMIC_ADD, add, 2);
    }

    /* PRINTF: format id, value count, values. */
    uint32_t print[4] = {FORMAT_HELLO, 2u, p->id, adds_per_thread};
    last = publish(p->mk, VYRE_OP_PRINTF, print, 4);
    wait_ticket(p->mk, last, "vyre_megakernel_wait (PRINTF)");
    return NULL;
}

struct metric_name {
    uint32_t bucket;
    const char *name;
};

/* Metric buckets (VYRE_METRIC_*) and the names printed for them. */
static const struct metric_name metric_names[] = {
    {VYRE_METRIC_NOP, "NOP"},
    {VYRE_METRIC_STORE_U32, "STORE_U32"},
    {VYRE_METRIC_ATOMIC_ADD, "ATOMIC_ADD"},
    {VYRE_METRIC_LOAD_U32, "LOAD_U32"},
    {VYRE_METRIC_COMPARE_SWAP, "COMPARE_SWAP"},
    {VYRE_METRIC_MEMCPY, "MEMCPY"},
    {VYRE_METRIC_DFA_SCAN, "DFA_SCAN"},
    {VYRE_METRIC_BATCH_FENCE, "BATCH_FENCE"},
    {VYRE_METRIC_PRINTF, "PRINTF"},
    {VYRE_METRIC_PACKED_SLOT, "PACKED_SLOT"},
    {VYRE_METRIC_SHUTDOWN, "SHUTDOWN"},
    {VYRE_METRIC_TENANT, "tenant opcodes"},
    {VYRE_METRIC_FAULT, "faulted slots"},
};

static const char *metric_name(uint32_t bucket)
{
    size_t i;
    for (i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++) {
        if (metric_names[i].bucket == bucket) {
            return metric_names[i].name;
        }
    }
    return "(reserved)";
}

int main(void)
{
    const char *scale = getenv("VYRE_TEST_SCALE");
    vyre_megakernel_options opts;
    vyre_megakernel *mk = NULL;
    pthread_t threads[PUBLISHERS];
    struct publisher pubs[PUBLISHERS];
    uint32_t observables[OBS_SHOWN];
    uint32_t metrics[VYRE_METRIC_COUNT];
    vyre_debug_record records[64];
    size_t record_n = 0;
    uint32_t dropped = 0, epoch = 0;
    vyre_megakernel_stats stats;
    uint32_t expected_counter = 0, expected_batch_sum = 0;
    uint32_t seen_threads = 0;
    vyre_status st;
    unsigned t, b, i;

    if (scale != NULL && strcmp(scale, "small") == 0) {
        adds_per_thread = 50u;
    }

    printf("libvyre %s\n", vyre_version_string());

    st = vyre_megakernel_options_init(&opts);
    if (st != VYRE_OK) die("vyre_megakernel_options_init", st);
    opts.slot_count = 1024;
    opts.observable_count = 64;
    st = vyre_megakernel_create(&opts, &mk);
    if (st != VYRE_OK) die("vyre_megakernel_create", st);
    memset(&stats, 0, sizeof stats);
    stats.struct_size = (uint32_t)sizeof stats;
    st = vyre_megakernel_read_stats(mk, &stats);
    if (st != VYRE_OK) die("vyre_megakernel_read_stats", st);
    CHECK(stats.backend == VYRE_BACKEND_REFERENCE || stats.backend == VYRE_BACKEND_VULKAN,
          "backend %" PRIu32, stats.backend);
    printf("megakernel: %s backend, %" PRIu32 " slots, %" PRIu32 " workers (%" PRIu32
           " lanes), %" PRIu32 " observables, %" PRIu32 " tenant(s)\n",
           stats.backend == VYRE_BACKEND_VULKAN ? "Vulkan" : "reference", stats.slot_count,
           stats.worker_count, stats.lane_count, stats.observable_count, stats.tenant_count);

    /* Publisher threads. */
    for (t = 0; t < PUBLISHERS; t++) {
        pubs[t].mk = mk;
        pubs[t].id = t;
        if (pthread_create(&threads[t], NULL, publisher_main, &pubs[t]) != 0) {
            fprintf(stderr, "megakernel_demo: pthread_create failed\n");
            return 1;
        }
        expected_counter += (t + 1u) * adds_per_thread;
    }

    /* Batches from the main thread: each fence completes only after all of
     * its batch's members, so the batch sum is final when the fence is. */
    for (b = 0; b < BATCHES; b++) {
        vyre_slot_request batch[BATCH_MEMBERS];
        vyre_ticket fence;
        uint32_t now = 0;

        memset(batch, 0, sizeof batch);
        for (i = 0; i < BATCH_MEMBERS; i++) {
            batch[i].opcode = VYRE_OP_ATOMIC_ADD;
            batch[i].tenant = 0;
            batch[i].arg_count = 2;
            batch[i].args[0] = OBS_BATCH_SUM;
            batch[i].args[1] = b * 100u + i;
            expected_batch_sum += b * 100u + i;
        }
        for (;;) {
            st = vyre_megakernel_publish_batch(mk, batch, BATCH_MEMBERS, OBS_EPOCH, NULL,
                                               &fence);
            if (st != VYRE_E_QUEUE_FULL) break;
            sched_yield();
        }
        if (st != VYRE_OK) die("vyre_megakernel_publish_batch", st);
        wait_ticket(mk, fence, "vyre_megakernel_wait (fence)");
        /* Only this thread publishes fences: the epoch says ours is done. */
        st = vyre_megakernel_epoch(mk, &now);
        if (st != VYRE_OK) die("vyre_megakernel_epoch", st);
        CHECK(now == b + 1u, "epoch %" PRIu32 " after fence %u", now, b + 1u);

        st = vyre_megakernel_read_observables(mk, OBS_BATCH_SUM, &now, 1);
        if (st != VYRE_OK) die("vyre_megakernel_read_observables", st);
        printf("batch %u: fence done, batch sum %" PRIu32 "\n", b, now);
        CHECK(now == expected_batch_sum, "batch %u: sum %" PRIu32 ", expected %" PRIu32, b, now,
              expected_batch_sum);
    }

    for (t = 0; t < PUBLISHERS; t++) {
        pthread_join(threads[t], NULL);
    }
    st = vyre_megakernel_wait_idle(mk, WAIT_MS);
    if (st != VYRE_OK) die("vyre_megakernel_wait_idle", st);

    /* Epoch. */
    st = vyre_megakernel_epoch(mk, &epoch);
    if (st != VYRE_OK) die("vyre_megakernel_epoch", st);
    printf("\nepoch: %" PRIu32 "\n", epoch);
    CHECK(epoch == BATCHES, "epoch %" PRIu32 ", expected %u", epoch, BATCHES);

    /* Observables. */
    st = vyre_megakernel_read_observables(mk, 0, observables, OBS_SHOWN);
    if (st != VYRE_OK) die("vyre_megakernel_read_observables", st);
    printf("observables:");
    for (i = 0; i < OBS_SHOWN; i++) {
        printf(" [%u]=%" PRIu32, i, observables[i]);
    }
    printf("\n");
    for (t = 0; t < PUBLISHERS; t++) {
        CHECK(observables[OBS_THREAD_BASE + t] == 1000u + t, "observable %u = %" PRIu32
              ", expected %u", OBS_THREAD_BASE + t, observables[OBS_THREAD_BASE + t], 1000u + t);
    }
    CHECK(observables[OBS_COUNTER] == expected_counter, "counter %" PRIu32 ", expected %" PRIu32,
          observables[OBS_COUNTER], expected_counter);
    CHECK(observables[OBS_BATCH_SUM] == expected_batch_sum,
          "batch sum %" PRIu32 ", expected %" PRIu32, observables[OBS_BATCH_SUM],
          expected_batch_sum);
    CHECK(observables[OBS_EPOCH] == BATCHES, "fence-written epoch %" PRIu32 ", expected %u",
          observables[OBS_EPOCH], BATCHES);

    /* Per-opcode metrics: one count per VYRE_METRIC_* bucket. */
    st = vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT);
    if (st != VYRE_OK) die("vyre_megakernel_read_metrics", st);
    printf("metrics (slots executed per opcode):\n");
    for (i = 0; i < VYRE_METRIC_COUNT; i++) {
        if (metrics[i] != 0) {
            printf("  %-15s %" PRIu32 "\n", metric_name(i), metrics[i]);
        }
    }
    CHECK(metrics[VYRE_METRIC_STORE_U32] == PUBLISHERS, "STORE_U32 count %" PRIu32
          ", expected %u", metrics[VYRE_METRIC_STORE_U32], PUBLISHERS);
    CHECK(metrics[VYRE_METRIC_ATOMIC_ADD] == PUBLISHERS * adds_per_thread + BATCHES * BATCH_MEMBERS,
          "ATOMIC_ADD count %" PRIu32 ", expected %u", metrics[VYRE_METRIC_ATOMIC_ADD],
          PUBLISHERS * adds_per_thread + BATCHES * BATCH_MEMBERS);
    CHECK(metrics[VYRE_METRIC_PRINTF] == PUBLISHERS, "PRINTF count %" PRIu32 ", expected %u",
          metrics[VYRE_METRIC_PRINTF], PUBLISHERS);
    CHECK(metrics[VYRE_METRIC_BATCH_FENCE] == BATCHES, "BATCH_FENCE count %" PRIu32
          ", expected %u", metrics[VYRE_METRIC_BATCH_FENCE], BATCHES);
    CHECK(metrics[VYRE_METRIC_FAULT] == 0, "%" PRIu32 " slots faulted",
          metrics[VYRE_METRIC_FAULT]);

    /* Debug log: one record per publisher, in any order. */
    st = vyre_megakernel_read_debug_log(mk, 0, records, sizeof records / sizeof records[0],
                                        &record_n, &dropped);
    if (st != VYRE_OK) die("vyre_megakernel_read_debug_log", st);
    printf("debug log: %zu records, %" PRIu32 " dropped\n", record_n, dropped);
    for (i = 0; i < record_n; i++) {
        const vyre_debug_record *r = &records[i];
        uint32_t v;
        printf("  #%u tenant %" PRIu32 " format %" PRIu32 ":", i, r->tenant, r->format_id);
        for (v = 0; v < r->value_count && v < 8u; v++) {
            printf(" %" PRIu32, r->values[v]);
        }
        printf("\n");
        CHECK(r->tenant == 0 && r->format_id == FORMAT_HELLO && r->value_count == 2,
              "record %u: tenant %" PRIu32 " format %" PRIu32 " count %" PRIu32, i, r->tenant,
              r->format_id, r->value_count);
        if (r->value_count == 2 && r->values[0] < PUBLISHERS) {
            seen_threads |= 1u << r->values[0];
            CHECK(r->values[1] == adds_per_thread, "record %u: value %" PRIu32 ", expected %u", i,
                  r->values[1], adds_per_thread);
        }
    }
    CHECK(record_n == PUBLISHERS, "%zu debug records, expected %u", record_n, PUBLISHERS);
    CHECK(dropped == 0, "%" PRIu32 " debug records dropped", dropped);
    CHECK(seen_threads == (1u << PUBLISHERS) - 1u, "records seen from threads mask 0x%" PRIx32,
          seen_threads);

    /* Totals: every published slot (batch fences included) completed DONE. */
    st = vyre_megakernel_read_stats(mk, &stats);
    if (st != VYRE_OK) die("vyre_megakernel_read_stats", st);
    {
        uint64_t expected_slots = (uint64_t)PUBLISHERS * (adds_per_thread + 2u) +
                                  (uint64_t)BATCHES * (BATCH_MEMBERS + 1u);
        printf("stats: %" PRIu64 " published, %" PRIu32 " done, %" PRIu32 " faulted, %" PRIu64
               " cancelled\n",
               stats.published_count, stats.done_count, stats.fault_count,
               stats.cancelled_count);
        CHECK(stats.published_count == expected_slots,
              "%" PRIu64 " slots published, expected %" PRIu64, stats.published_count,
              expected_slots);
        CHECK(stats.done_count == expected_slots, "%" PRIu32 " slots done, expected %" PRIu64,
              stats.done_count, expected_slots);
        CHECK(stats.fault_count == 0 && stats.cancelled_count == 0,
              "%" PRIu32 " faulted, %" PRIu64 " cancelled", stats.fault_count,
              stats.cancelled_count);
    }

    st = vyre_megakernel_shutdown(mk, WAIT_MS);
    if (st != VYRE_OK) die("vyre_megakernel_shutdown", st);
    vyre_megakernel_destroy(mk);

    if (failures != 0) {
        fprintf(stderr, "megakernel_demo: %d mismatches\n", failures);
        return 1;
    }
    printf("\nall numbers match what the demo computed\n");
    return 0;
}
