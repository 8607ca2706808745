/* Rule sets through the C API: compile literals and regexes, serialize and
 * load them back, read their info, and bad inputs to every vyre_rule_set_*
 * function (NULL pointers, struct sizes, flags, kinds, syntax errors,
 * corrupt and truncated tables, undersized buffers). Failures must return
 * their documented code, name the problem in vyre_last_error_message and
 * leave the outputs untouched. */
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
_Static_assert(sizeof(vyre_rule_set_info) == 32, "vyre_rule_set_info size");
_Static_assert(offsetof(vyre_rule_set_info, table_bytes) == 8, "vyre_rule_set_info.table_bytes");
_Static_assert(offsetof(vyre_rule_set_info, pattern_count) == 16, "vyre_rule_set_info.pattern_count");
_Static_assert(offsetof(vyre_rule_set_info, state_count) == 20, "vyre_rule_set_info.state_count");
_Static_assert(offsetof(vyre_rule_set_info, class_count) == 24, "vyre_rule_set_info.class_count");
_Static_assert(offsetof(vyre_pattern, len) == sizeof(void *), "vyre_pattern.len");
_Static_assert(offsetof(vyre_pattern, kind) == 2 * sizeof(void *), "vyre_pattern.kind");

/* The last error message contains `needle`. */
static void check_message_has(const char *needle)
{
    char buf[1024];
    VYRE_CHECK_OK(vyre_last_error_message(buf, sizeof buf, NULL));
    if (strstr(buf, needle) == NULL) {
        fprintf(stderr, "expected \"%s\" in the last error message, got \"%s\"\n", needle, buf);
        VYRE_CHECK(!"last error message names the problem");
    }
}

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
    check_message_has("vyre_rule_set_compile");
    check_message_has(needle);
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
    check_message_has("vyre_rule_set_serialize");

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
    check_message_has("vyre_rule_set_deserialize");
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, needed - 1, &back), VYRE_E_PROTOCOL);
    check_message_has("truncated");
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, needed + 1, &back), VYRE_E_PROTOCOL);
    memcpy(copy, buf, needed);
    copy[0] = 'X';
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(copy, needed, &back), VYRE_E_PROTOCOL);
    check_message_has("magic");
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
    check_message_has("syntax error");
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
    check_message_has("vyre_rule_set_serialize");
    VYRE_CHECK_STATUS(vyre_rule_set_serialize(rs, NULL, 100000, &needed), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(buf, sizeof buf, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_deserialize(NULL, 5, &rs), VYRE_E_NULL_POINTER);

    memset(&info, 0xA5, sizeof info);
    info.struct_size = sizeof info;
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(NULL, &info), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, NULL), VYRE_E_NULL_POINTER);
    info.struct_size = 8;
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, &info), VYRE_E_INVALID_ARGUMENT);
    check_message_has("struct_size");
    VYRE_CHECK(info.pattern_count == 0xA5A5A5A5u); /* untouched */
    vyre_rule_set_destroy(rs);
}

int main(void)
{
    test_compile_and_info();
    test_round_trip();
    test_bad_compile_inputs();
    test_bad_handles();
    printf("test_rules: ok\n");
    return 0;
}
