/* Rule sets through the C API: compile literals and regexes, serialize and
 * load them back, read their info (max_match_len included, and the struct
 * size before it), scan on the CPU against a naive search written here, and
 * bad inputs to every vyre_rule_set_* function (NULL pointers, struct sizes,
 * flags, kinds, syntax errors, corrupt and truncated tables, undersized
 * buffers). Failures must return their documented code, name the problem in
 * vyre_last_error_message and leave the outputs untouched. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

/* Layout, mirrored by src/ffi/rules.rs. */
_Static_assert(sizeof(vyre_rule_set_options) == 8, "vyre_rule_set_options size");
_Static_assert(offsetof(vyre_rule_set_options, flags) == 4, "vyre_rule_set_options.flags");
_Static_assert(sizeof(vyre_rule_set_info) == 40, "vyre_rule_set_info size");
_Static_assert(offsetof(vyre_rule_set_info, table_bytes) == 8, "vyre_rule_set_info.table_bytes");
_Static_assert(offsetof(vyre_rule_set_info, pattern_count) == 16, "vyre_rule_set_info.pattern_count");
_Static_assert(offsetof(vyre_rule_set_info, state_count) == 20, "vyre_rule_set_info.state_count");
_Static_assert(offsetof(vyre_rule_set_info, class_count) == 24, "vyre_rule_set_info.class_count");
_Static_assert(offsetof(vyre_rule_set_info, reserved) == 28, "vyre_rule_set_info.reserved");
_Static_assert(offsetof(vyre_rule_set_info, max_match_len) == 32, "vyre_rule_set_info.max_match_len");
_Static_assert(VYRE_MATCH_LEN_UNBOUNDED == 0xFFFFFFFFu, "VYRE_MATCH_LEN_UNBOUNDED");
_Static_assert(offsetof(vyre_pattern, len) == sizeof(void *), "vyre_pattern.len");
_Static_assert(offsetof(vyre_pattern, kind) == 2 * sizeof(void *), "vyre_pattern.kind");

static vyre_pattern pat(const char *text, uint32_t kind)
{
    vyre_pattern p;
    p.bytes = (const uint8_t *)text;
    p.len = strlen(text);
    p.kind = kind;
    return p;
}

/* compile must fail with `expected`, leave *out alone and say `needle`. */
static void check_compile_fails(const vyre_rule_set_options *opts, const vyre_pattern *patterns,
                                size_t count, vyre_status expected, const char *needle)
{
    vyre_rule_set *rs = (vyre_rule_set *)&rs; /* a sentinel address */
    vyre_rule_set *const before = rs;
    VYRE_CHECK_STATUS(vyre_rule_set_compile(opts, patterns, count, &rs), expected);
    VYRE_CHECK(rs == before);
    vyre_test_message_has("vyre_rule_set_compile");
    vyre_test_message_has(needle);
}

static vyre_rule_set *compile_sample(uint32_t flags)
{
    vyre_rule_set_options opts;
    vyre_pattern patterns[4];
    vyre_rule_set *rs = NULL;
    static const uint8_t binary[3] = {0xFF, 0x00, 0x41};

    patterns[0] = pat("ab", VYRE_PATTERN_LITERAL);
    patterns[1] = pat("abc", VYRE_PATTERN_LITERAL);
    patterns[2] = pat("[0-9]{3}-[0-9]{4}", VYRE_PATTERN_REGEX);
    patterns[3].bytes = binary; /* NUL inside a literal */
    patterns[3].len = sizeof binary;
    patterns[3].kind = VYRE_PATTERN_LITERAL;
    VYRE_CHECK_OK(vyre_rule_set_options_init(&opts));
    VYRE_CHECK(opts.struct_size == sizeof opts && opts.flags == 0);
    opts.flags = flags;
    VYRE_CHECK_OK(vyre_rule_set_compile(&opts, patterns, 4, &rs));
    VYRE_CHECK(rs != NULL);
    return rs;
}

static void get_info(const vyre_rule_set *rs, vyre_rule_set_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    VYRE_CHECK_OK(vyre_rule_set_get_info(rs, info));
}

static void test_compile_and_info(void)
{
    vyre_rule_set *rs = compile_sample(VYRE_RULE_CASE_INSENSITIVE);
    vyre_rule_set_info info;

    get_info(rs, &info);
    VYRE_CHECK(info.struct_size == sizeof info);
    VYRE_CHECK(info.flags == VYRE_RULE_CASE_INSENSITIVE);
    VYRE_CHECK(info.pattern_count == 4);
    VYRE_CHECK(info.state_count >= 2 && info.state_count <= VYRE_RULE_SET_MAX_STATES);
    VYRE_CHECK(info.class_count >= 2 && info.class_count <= 256);
    /* class_of + 257 start states + transitions + match offsets at least. */
    VYRE_CHECK(info.table_bytes >= 256u + 4u * (257u + (uint64_t)info.state_count *
                                                            (info.class_count + 1u)));
    VYRE_CHECK(info.table_bytes <= VYRE_RULE_SET_MAX_TABLE_BYTES);
    VYRE_CHECK(info.reserved == 0);
    VYRE_CHECK(info.max_match_len == 8); /* [0-9]{3}-[0-9]{4} */
    vyre_rule_set_destroy(rs);

    /* Defaults (NULL options) and an empty set are fine. */
    {
        vyre_pattern one = pat("x", VYRE_PATTERN_LITERAL);
        rs = NULL;
        VYRE_CHECK_OK(vyre_rule_set_compile(NULL, &one, 1, &rs));
        get_info(rs, &info);
        VYRE_CHECK(info.flags == 0 && info.pattern_count == 1);
        vyre_rule_set_destroy(rs);
        rs = NULL;
        VYRE_CHECK_OK(vyre_rule_set_compile(NULL, NULL, 0, &rs));
        get_info(rs, &info);
        VYRE_CHECK(info.pattern_count == 0);
        VYRE_CHECK(info.max_match_len == 0); /* nothing can match */
        vyre_rule_set_destroy(rs);
    }
    vyre_rule_set_destroy(NULL);
}

static void test_round_trip(void)
{
    vyre_rule_set *rs = compile_sample(0);
    vyre_rule_set *back = NULL;
    vyre_rule_set_info a, b;
    size_t needed = 0, again = 0;
    uint8_t *buf, *copy;
    uint8_t small[16];
    size_t i;

    VYRE_CHECK_STATUS(vyre_rule_set_serialize(rs, NULL, 0, &needed), VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK(needed > 256);
    memset(small, 0x5A, sizeof small);
    VYRE_CHECK_STATUS(vyre_rule_set_serialize(rs, small, sizeof small, &again),
                      VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK(again == needed);
    VYRE_CHECK(small[0] == 0x5A && small[15] == 0x5A); /* nothing written */
    vyre_test_message_has("vyre_rule_set_serialize");

    buf = (uint8_t *)malloc(needed + 8);
    VYRE_CHECK(buf != NULL);
    again = 0;
    VYRE_CHECK_OK(vyre_rule_set_serialize(rs, buf, needed + 8, &again));
    VYRE_CHECK(again == needed);
    VYRE_CHECK(memcmp(buf, "VYRERULE", 8) == 0);
    VYRE_CHECK_OK(vyre_rule_set_serialize(rs, buf, needed, NULL));

    VYRE_CHECK_OK(vyre_rule_set_deserialize(buf, needed, &back));
    get_info(rs, &a);
    get_info(back, &b);
    VYRE_CHECK(memcmp(&a, &b, offsetof(vyre_rule_set_info, class_count) + sizeof a.class_count) == 0);
    VYRE_CHECK(a.max_match_len == 8 && b.max_match_len == 8);

    /* Serializing the loaded copy gives the same bytes. */
    copy = (uint8_t *)malloc(needed);
    VYRE_CHECK(copy != NULL);
    VYRE_CHECK_OK(vyre_rule_set_serialize(back, copy, needed, NULL));
    VYRE_CHECK(memcmp(copy, buf, needed) == 0);
    vyre_rule_set_destroy(back);

    /* Corruption: a flipped byte anywhere, truncation, trailing bytes. */
    for (i = 0; i < needed; i += vyre_test_scaled(1, 7)) {
        vyre_rule_set *sentinel = (vyre_rule_set *)&sentinel;
        vyre_rule_set *const before = sentinel;
        memcpy(copy, buf, needed);
        copy[i] ^= 0x10;
        VYRE_CHECK_STATUS(vyre_rule_set_deserialize(copy, needed, &sentinel), VYRE_E_PROTOCOL);
        VYRE_CHECK(sentinel == before);
    }
    vyre_test_message_has("vyre_rule_set_deserialize");
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, needed - 1, &back), VYRE_E_PROTOCOL);
    vyre_test_message_has("truncated");
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, needed + 1, &back), VYRE_E_PROTOCOL);
    memcpy(copy, buf, needed);
    copy[0] = 'X';
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(copy, needed, &back), VYRE_E_PROTOCOL);
    vyre_test_message_has("magic");
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, 10, &back), VYRE_E_PROTOCOL);
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(NULL, 0, &back), VYRE_E_PROTOCOL);

    free(copy);
    free(buf);
    vyre_rule_set_destroy(rs);
}

static void test_bad_compile_inputs(void)
{
    vyre_rule_set_options opts;
    vyre_pattern patterns[3];
    vyre_rule_set *rs = NULL;
    struct {
        vyre_rule_set_options opts;
        uint32_t newer_field;
    } bigger;

    patterns[0] = pat("ok", VYRE_PATTERN_LITERAL);
    patterns[1] = pat("fine", VYRE_PATTERN_REGEX);
    patterns[2] = pat("x", VYRE_PATTERN_LITERAL);
    VYRE_CHECK_OK(vyre_rule_set_options_init(&opts));

    /* NULL pointers. */
    VYRE_CHECK_STATUS(vyre_rule_set_options_init(NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_compile(&opts, patterns, 3, NULL), VYRE_E_NULL_POINTER);
    check_compile_fails(&opts, NULL, 2, VYRE_E_NULL_POINTER, "patterns");

    /* Flags and struct sizes. */
    opts.flags = 0x80;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "flags");
    VYRE_CHECK_OK(vyre_rule_set_options_init(&opts));
    opts.struct_size = 4;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "struct_size");
    memset(&bigger, 0, sizeof bigger);
    VYRE_CHECK_OK(vyre_rule_set_options_init(&bigger.opts));
    bigger.opts.struct_size = sizeof bigger;
    VYRE_CHECK_OK(vyre_rule_set_compile(&bigger.opts, patterns, 3, &rs));
    vyre_rule_set_destroy(rs);
    bigger.newer_field = 1;
    check_compile_fails(&bigger.opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "does not know");
    VYRE_CHECK_OK(vyre_rule_set_options_init(&opts));

    /* Pattern kinds, empty and NULL patterns, bad regexes: the index is named. */
    patterns[1].kind = 2;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "pattern 1");
    patterns[1].kind = 0xFFFFFFFFu;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "kind");
    patterns[1] = pat("", VYRE_PATTERN_LITERAL);
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "pattern 1 is empty");
    patterns[1].bytes = NULL;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "pattern 1 is empty");
    patterns[1].len = 3;
    check_compile_fails(&opts, patterns, 3, VYRE_E_NULL_POINTER, "patterns[1].bytes");
    patterns[1] = pat("fine", VYRE_PATTERN_REGEX);
    patterns[2] = pat("a(b", VYRE_PATTERN_REGEX);
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "pattern 2");
    vyre_test_message_has("syntax error");
    patterns[2] = pat("z*", VYRE_PATTERN_REGEX);
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "empty string");
    patterns[2] = pat("\xff", VYRE_PATTERN_REGEX);
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "UTF-8");
    patterns[2] = pat("\xff", VYRE_PATTERN_LITERAL); /* fine as a literal */
    VYRE_CHECK_OK(vyre_rule_set_compile(&opts, patterns, 3, &rs));
    vyre_rule_set_destroy(rs);
    patterns[2].len = (size_t)VYRE_RULE_SET_MAX_PATTERN_LEN + 1;
    check_compile_fails(&opts, patterns, 3, VYRE_E_INVALID_ARGUMENT, "VYRE_RULE_SET_MAX_PATTERN_LEN");
    check_compile_fails(&opts, patterns, (size_t)VYRE_RULE_SET_MAX_PATTERNS + 1,
                        VYRE_E_INVALID_ARGUMENT, "VYRE_RULE_SET_MAX_PATTERNS");
}

static void test_bad_handles(void)
{
    vyre_rule_set *rs = compile_sample(0);
    vyre_rule_set_info info;
    size_t needed = 77;
    uint8_t buf[8];

    VYRE_CHECK_STATUS(vyre_rule_set_serialize(NULL, buf, sizeof buf, &needed), VYRE_E_NULL_POINTER);
    VYRE_CHECK(needed == 77);
    vyre_test_message_has("vyre_rule_set_serialize");
    VYRE_CHECK_STATUS(vyre_rule_set_serialize(rs, NULL, 100000, &needed), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, sizeof buf, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(NULL, 5, &rs), VYRE_E_NULL_POINTER);

    memset(&info, 0xA5, sizeof info);
    info.struct_size = sizeof info;
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(NULL, &info), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, NULL), VYRE_E_NULL_POINTER);
    info.struct_size = 8;
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, &info), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK(info.pattern_count == 0xA5A5A5A5u); /* untouched */
    info.struct_size = 36; /* neither this struct nor the one before max_match_len */
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, &info), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK(info.pattern_count == 0xA5A5A5A5u);
    vyre_rule_set_destroy(rs);
}

static vyre_rule_set *compile_list(const vyre_pattern *patterns, size_t count, uint32_t flags)
{
    vyre_rule_set_options opts;
    vyre_rule_set *rs = NULL;
    VYRE_CHECK_OK(vyre_rule_set_options_init(&opts));
    opts.flags = flags;
    VYRE_CHECK_OK(vyre_rule_set_compile(&opts, patterns, count, &rs));
    return rs;
}

static uint32_t max_match_len_of(const vyre_pattern *patterns, size_t count, uint32_t flags)
{
    vyre_rule_set *rs = compile_list(patterns, count, flags);
    vyre_rule_set_info info;
    get_info(rs, &info);
    vyre_rule_set_destroy(rs);
    return info.max_match_len;
}

static void test_max_match_len(void)
{
    vyre_pattern p[3];
    vyre_rule_set *rs;
    union {
        vyre_rule_set_info info;
        unsigned char bytes[64];
    } old;
    size_t i;

    p[0] = pat("abcde", VYRE_PATTERN_LITERAL);
    p[1] = pat("[0-9]{2}", VYRE_PATTERN_REGEX);
    p[2] = pat("a.*b", VYRE_PATTERN_REGEX);
    VYRE_CHECK(max_match_len_of(p, 2, 0) == 5);
    VYRE_CHECK(max_match_len_of(p + 1, 1, 0) == 2);
    VYRE_CHECK(max_match_len_of(p, 3, 0) == VYRE_MATCH_LEN_UNBOUNDED); /* a.*b */
    p[0] = pat("x+", VYRE_PATTERN_REGEX);
    VYRE_CHECK(max_match_len_of(p, 1, 0) == VYRE_MATCH_LEN_UNBOUNDED);
    /* UTF-8 bytes in Unicode mode: U+00E9 is 2 bytes; with case folding, k
     * also matches U+212A KELVIN SIGN, 3 bytes. */
    p[0] = pat("(?u)\\x{E9}|(?u:[\xC3\xA9])", VYRE_PATTERN_REGEX);
    VYRE_CHECK(max_match_len_of(p, 1, 0) == 2);
    p[0] = pat("(?u)k", VYRE_PATTERN_REGEX);
    VYRE_CHECK(max_match_len_of(p, 1, 0) == 1);
    VYRE_CHECK(max_match_len_of(p, 1, VYRE_RULE_CASE_INSENSITIVE) == 3);

    /* A caller built against the struct before max_match_len (32 bytes):
     * accepted, and nothing after those 32 bytes is written. */
    p[0] = pat("abcde", VYRE_PATTERN_LITERAL);
    rs = compile_list(p, 1, 0);
    memset(old.bytes, 0xA5, sizeof old.bytes);
    old.info.struct_size = 32;
    VYRE_CHECK_OK(vyre_rule_set_get_info(rs, &old.info));
    VYRE_CHECK(old.info.struct_size == 32 && old.info.pattern_count == 1 && old.info.flags == 0);
    for (i = 32; i < sizeof old.bytes; i++) {
        VYRE_CHECK(old.bytes[i] == 0xA5);
    }
    /* A newer, bigger struct: this library fills its 40 bytes and says so. */
    memset(old.bytes, 0xA5, sizeof old.bytes);
    old.info.struct_size = sizeof old.bytes;
    VYRE_CHECK_OK(vyre_rule_set_get_info(rs, &old.info));
    VYRE_CHECK(old.info.struct_size == sizeof(vyre_rule_set_info));
    VYRE_CHECK(old.info.max_match_len == 5 && old.info.reserved == 0);
    VYRE_CHECK(old.bytes[sizeof(vyre_rule_set_info)] == 0xA5);
    vyre_rule_set_destroy(rs);
}

/* ------------------------------------------------------------ CPU scan */

#define MAX_MATCHES 256

typedef struct {
    uint32_t pattern_id;
    uint64_t end;
} match;

typedef struct {
    match seen[MAX_MATCHES];
    size_t count;
    size_t stop_after; /* return non-zero once this many were seen */
    const vyre_rule_set *rs; /* if not NULL, the callback reads its info */
} recorder;

static int record(void *ctx, uint32_t pattern_id, uint64_t end_offset)
{
    recorder *r = (recorder *)ctx;
    VYRE_CHECK(r->count < MAX_MATCHES);
    r->seen[r->count].pattern_id = pattern_id;
    r->seen[r->count].end = end_offset;
    r->count++;
    if (r->rs != NULL) { /* calling back into libvyre is allowed */
        vyre_rule_set_info info;
        get_info(r->rs, &info);
    }
    return r->count >= r->stop_after;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Every (pattern, end) of literal patterns by brute force, in the order a
 * scan reports them: by end, then by pattern id. */
static size_t naive_literal_matches(const vyre_pattern *patterns, size_t count, int fold,
                                    const uint8_t *data, size_t len, match *out)
{
    size_t n = 0, end, id, k;
    for (end = 1; end <= len; end++) {
        for (id = 0; id < count; id++) {
            const vyre_pattern *p = &patterns[id];
            int hit = p->len <= end;
            for (k = 0; hit && k < p->len; k++) {
                int a = data[end - p->len + k], b = p->bytes[k];
                hit = fold ? lower(a) == lower(b) : a == b;
            }
            if (hit) {
                VYRE_CHECK(n < MAX_MATCHES);
                out[n].pattern_id = (uint32_t)id;
                out[n].end = end;
                n++;
            }
        }
    }
    return n;
}

static void check_same_matches(const recorder *r, const match *want, size_t n)
{
    size_t i;
    if (r->count != n) {
        fprintf(stderr, "expected %zu matches, the scan reported %zu\n", n, r->count);
    }
    VYRE_CHECK(r->count == n);
    for (i = 0; i < n; i++) {
        if (r->seen[i].pattern_id != want[i].pattern_id || r->seen[i].end != want[i].end) {
            fprintf(stderr, "match %zu: expected (%u, %llu), got (%u, %llu)\n", i, want[i].pattern_id,
                    (unsigned long long)want[i].end, r->seen[i].pattern_id,
                    (unsigned long long)r->seen[i].end);
        }
        VYRE_CHECK(r->seen[i].pattern_id == want[i].pattern_id && r->seen[i].end == want[i].end);
    }
}

static void test_scan_cpu(void)
{
    static const uint8_t nul_a[2] = {0x00, 'a'};
    static const uint8_t data[] = "xabcabca\0aBCab-bcaab\0A";
    const size_t len = sizeof data - 1; /* not the final NUL */
    vyre_pattern patterns[5];
    match want[MAX_MATCHES];
    recorder r;
    int fold;

    patterns[0] = pat("ab", VYRE_PATTERN_LITERAL);
    patterns[1] = pat("abc", VYRE_PATTERN_LITERAL);
    patterns[2] = pat("b", VYRE_PATTERN_LITERAL);
    patterns[3] = pat("bca", VYRE_PATTERN_LITERAL);
    patterns[4].bytes = nul_a;
    patterns[4].len = sizeof nul_a;
    patterns[4].kind = VYRE_PATTERN_LITERAL;
    for (fold = 0; fold <= 1; fold++) {
        vyre_rule_set *rs = compile_list(patterns, 5, fold ? VYRE_RULE_CASE_INSENSITIVE : 0);
        size_t n = naive_literal_matches(patterns, 5, fold, data, len, want);
        size_t stop;
        VYRE_CHECK(n > 10);

        memset(&r, 0, sizeof r);
        r.stop_after = (size_t)-1;
        r.rs = rs;
        VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, data, len, record, &r));
        check_same_matches(&r, want, n);

        /* A non-zero return stops the scan at once, and it is not an error. */
        for (stop = 1; stop <= n; stop++) {
            memset(&r, 0, sizeof r);
            r.stop_after = stop;
            VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, data, len, record, &r));
            check_same_matches(&r, want, stop);
        }
        vyre_rule_set_destroy(rs);
    }

    /* A regex: every end of three digits in a row. */
    {
        static const char digits[] = "a1234b56c789";
        vyre_pattern re = pat("[0-9]{3}", VYRE_PATTERN_REGEX);
        vyre_rule_set *rs = compile_list(&re, 1, 0);
        size_t n = 0, end;
        for (end = 3; end <= strlen(digits); end++) {
            if (digits[end - 3] >= '0' && digits[end - 3] <= '9' && digits[end - 2] >= '0' &&
                digits[end - 2] <= '9' && digits[end - 1] >= '0' && digits[end - 1] <= '9') {
                want[n].pattern_id = 0;
                want[n].end = end;
                n++;
            }
        }
        VYRE_CHECK(n == 3); /* 123, 234, 789 */
        memset(&r, 0, sizeof r);
        r.stop_after = (size_t)-1;
        VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, (const uint8_t *)digits, strlen(digits), record, &r));
        check_same_matches(&r, want, n);
        vyre_rule_set_destroy(rs);
    }
}

static void test_scan_cpu_bad_inputs(void)
{
    vyre_rule_set *rs = compile_sample(0);
    recorder r;
    const uint8_t data[4] = {'a', 'b', 'c', 'd'};

    memset(&r, 0, sizeof r);
    r.stop_after = (size_t)-1;
    VYRE_CHECK_STATUS(vyre_rule_set_scan_cpu(NULL, data, sizeof data, record, &r), VYRE_E_NULL_POINTER);
    vyre_test_message_has("vyre_rule_set_scan_cpu");
    vyre_test_message_has("`rs` is NULL");
    VYRE_CHECK_STATUS(vyre_rule_set_scan_cpu(rs, data, sizeof data, NULL, &r), VYRE_E_NULL_POINTER);
    vyre_test_message_has("`cb` is NULL");
    VYRE_CHECK_STATUS(vyre_rule_set_scan_cpu(rs, NULL, 4, record, &r), VYRE_E_NULL_POINTER);
    vyre_test_message_has("`data` is NULL");
    VYRE_CHECK(r.count == 0); /* no calls on failure */

    /* NULL data with len 0, or no bytes: nothing to scan, no calls. */
    VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, NULL, 0, record, &r));
    VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, data, 0, record, &r));
    VYRE_CHECK(r.count == 0);
    VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, data, sizeof data, record, &r));
    VYRE_CHECK(r.count == 2 && r.seen[0].pattern_id == 0 && r.seen[0].end == 2); /* ab, abc */
    vyre_rule_set_destroy(rs);
}

int main(void)
{
    test_compile_and_info();
    test_round_trip();
    test_bad_compile_inputs();
    test_bad_handles();
    test_max_match_len();
    test_scan_cpu();
    test_scan_cpu_bad_inputs();
    printf("test_rules: ok\n");
    return 0;
}
