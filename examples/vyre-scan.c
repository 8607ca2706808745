/*
 * vyre-scan: a grep-like secret scanner built on libvyre's scanning engine,
 * through <vyre.h> only.
 *
 *   vyre-scan [-F patterns.txt | -e REGEX ...] [-i] [--count] [--json] [--verify] [--no-pump]
 *             [--sqpoll | --no-sqpoll] PATH...
 *
 * It compiles every pattern into one rule set, loads it into a vyre_engine
 * (the resident Vulkan kernel where a device exists, else the reference
 * backend), walks the paths, has each file scanned, and prints the matches of
 * each file, in the order the files were walked, as `path:end:pattern`.
 *
 * By default the files go through a vyre_pump (docs/PUMP.md): it reads them
 * with io_uring straight into the engine's input arena, splits large files
 * into overlapping chunks itself and enqueues each chunk's scan job as its
 * read completes; the program only submits paths and collects results (hits
 * come back with file offsets, each match once).
 *
 * With --no-pump (or where io_uring is missing) the program reads each file
 * with read(), copies it into the arena and enqueues the jobs itself, as
 * follows.
 *
 * How the arena is used. The arena is treated as a ring of free space: a job
 * takes a contiguous range at the ring's head (wrapping to offset 0 when the
 * end of the arena is too short), and the range is freed only once the job's
 * completion has been returned (completions come back in any order, so a
 * range is released when it and every older range are done). When the arena
 * or the engine's queue is full, the program waits for completions.
 *
 * How a large file is split. A rule set whose matches are at most L bytes long
 * (vyre_rule_set_info.max_match_len) lets a file be scanned in jobs of at most
 * J bytes (half the arena, at most 16 MiB); a file of at most J bytes is one
 * job. Job k of a larger file "owns" the match ends in (s_k, e_k], where the
 * owned ranges partition (0, file size], and scans the file bytes
 * [s_k - L, e_k + 1) (clipped to the file):
 *   - every match ending in (s_k, e_k] starts at or after e - L >= s_k + 1 - L,
 *     so it lies in the job, and it does not start at the job's first byte, so
 *     the byte before it (what `\b` and `^` look at) is inside the job too;
 *   - the byte after e_k is inside the job, so `$` and `\b` at an owned end see
 *     the same next byte as in a scan of the whole file.
 * Only the ends the job owns are kept, so every match of the file is reported
 * exactly once and exactly as a scan of the whole file would report it. A rule
 * set with unbounded matches (`a.*b`) cannot be split: a file larger than the
 * arena is then reported as an error and the run goes on.
 *
 * A job with more matches than max_hits_per_job completes with
 * VYRE_E_HITS_TRUNCATED: its stored matches are printed and the true count is
 * reported on stderr.
 *
 * --verify scans every file again on the CPU (vyre_rule_set_scan_cpu, the
 * oracle) and compares the sorted (end, pattern) lists; where a job was
 * truncated, its stored matches must be among the oracle's and its count must
 * equal the oracle's count over the job's bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <vyre.h>

#define PROG "vyre-scan"

/* Exit codes (grep's convention). */
#define EXIT_MATCH 0
#define EXIT_NO_MATCH 1     /* also: --verify found a difference */
#define EXIT_TROUBLE 2      /* usage, I/O or engine error */

#define DEFAULT_MAX_HITS 16384u      /* hits stored per job */
#define DEFAULT_QUEUE_DEPTH 256u     /* jobs in flight */
#define MAX_JOB_BYTES (16u << 20)    /* cap of a split job */
#define WAIT_SLICE_MS 200u           /* vyre_engine_wait timeout (progress ticks) */
#define STALL_NOTE_S 30.0            /* say so when nothing completes this long */
#define COMPLETION_BATCH 256u      /* completions (or pump results) per collect */
#define MAX_DIFFS_SHOWN 20u

/* ------------------------------------------------------------------ utils */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", n);
        exit(EXIT_TROUBLE);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", n);
        exit(EXIT_TROUBLE);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* Grows *buf (elements of size elem) so that it holds at least need elements. */
static void grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 16;
    if (need <= *cap) {
        return;
    }
    while (c < need) {
        c *= 2;
    }
    *buf = xrealloc(*buf, c * elem);
    *cap = c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* "12.3 MiB" */
static const char *human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(buf, len, "%" PRIu64 " B", n);
    } else {
        snprintf(buf, len, "%.1f %s", v, units[u]);
    }
    return buf;
}

/* ------------------------------------------------------ progress, messages */

static int progress_enabled;    /* stderr is a terminal */
static int progress_shown;      /* a progress line is on screen */
static double progress_last;

static void progress_clear(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = 0;
    }
}

static void warnf(const char *fmt, ...)
{
    va_list ap;
    progress_clear();
    fflush(stdout);
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Prints "what failed: STATUS (code): last error message". */
static void vyre_fail(const char *what, vyre_status st)
{
    char msg[1024];
    size_t needed = 0;
    msg[0] = '\0';
    vyre_last_error_message(msg, sizeof msg, &needed);
    warnf("%s failed: %s (%" PRId32 ")%s%s", what, vyre_status_str(st), st, msg[0] ? ": " : "", msg);
}

/* --------------------------------------------------------------- patterns */

typedef struct pattern {
    char *text;         /* the bytes as given, plus a NUL (a -F line may itself contain NULs: use len) */
    size_t len;
    uint32_t kind;      /* VYRE_PATTERN_LITERAL / VYRE_PATTERN_REGEX */
    char *origin;       /* "-e #2" or "FILE:LINE", for error messages */
} pattern;

static pattern *patterns;
static size_t pattern_count, pattern_cap;

static void add_pattern(const char *bytes, size_t len, uint32_t kind, const char *origin)
{
    pattern *p;
    grow((void **)&patterns, &pattern_cap, pattern_count + 1, sizeof *patterns);
    p = &patterns[pattern_count++];
    p->text = xmalloc(len + 1);
    memcpy(p->text, bytes, len);
    p->text[len] = '\0';
    p->len = len;
    p->kind = kind;
    p->origin = xstrdup(origin);
}

/* -F FILE: one literal per line; empty lines are skipped, a trailing CR is dropped. */
static int load_literal_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    char origin[PATH_MAX + 32];
    if (!f) {
        warnf("%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;
        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        if (len == 0) {
            continue;
        }
        snprintf(origin, sizeof origin, "%s:%lu", path, lineno);
        add_pattern(line, len, VYRE_PATTERN_LITERAL, origin);
    }
    free(line);
    if (ferror(f)) {
        warnf("%s: read error", path);
        if (f != stdin) {
            fclose(f);
        }
        return -1;
    }
    if (f != stdin) {
        fclose(f);
    }
    return 0;
}

/* ------------------------------------------------------------ output: JSON */

/* Writes s as a JSON string. Bytes that are not valid UTF-8 become U+FFFD;
 * returns 1 if that happened (the caller then adds the exact bytes in hex). */
static int json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int lossy = 0;
    fputc('"', out);
    while (i < len) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n': fputs("\\n", out); break;
            case '\r': fputs("\\r", out); break;
            case '\t': fputs("\\t", out); break;
            default: fprintf(out, "\\u%04x", c); break;
            }
            i++;
        } else if (c < 0x80) {
            fputc(c, out);
            i++;
        } else {
            /* A well-formed UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF)? */
            size_t n = 0;
            uint32_t cp = 0, min = 0;
            size_t k;
            if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1Fu; min = 0x80; }
            else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0Fu; min = 0x800; }
            else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07u; min = 0x10000; }
            for (k = 1; n && k < n; k++) {
                if (i + k >= len || (p[i + k] & 0xC0u) != 0x80u) {
                    n = 0;
                    break;
                }
                cp = (cp << 6) | (p[i + k] & 0x3Fu);
            }
            if (n && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
                n = 0;
            }
            if (n) {
                fwrite(p + i, 1, n, out);
                i += n;
            } else {
                fputs("\\ufffd", out);
                lossy = 1;
                i++;
            }
        }
    }
    fputc('"', out);
    return lossy;
}

static void hex_string(FILE *out, const char *s, size_t len)
{
    size_t i;
    fputc('"', out);
    for (i = 0; i < len; i++) {
        fprintf(out, "%02x", (unsigned char)s[i]);
    }
    fputc('"', out);
}

/* "key":"value" and, when value is not UTF-8, "key_hex":"...". */
static void json_field(FILE *out, const char *key, const char *s, size_t len)
{
    fprintf(out, "\"%s\":", key);
    if (json_string(out, s, len)) {
        fprintf(out, ",\"%s_hex\":", key);
        hex_string(out, s, len);
    }
}

/* ---------------------------------------------------------------- options */

static struct {
    int case_insensitive;
    int count;
    int json;
    int verify;
    int no_pump;
    int sqpoll;                 /* 1 --sqpoll, 0 --no-sqpoll, -1 by the number of cores */
    uint32_t backend;
    uint32_t device_index;
    uint64_t arena_bytes;       /* 0: engine default */
    uint32_t max_hits;
    uint32_t queue_depth;
} opt;

static void usage(FILE *out)
{
    fputs(
"Usage: " PROG " [-F FILE | -e REGEX]... [OPTIONS] PATH...\n"
"Scan files for many patterns at once on libvyre's scanning engine (the\n"
"resident GPU kernel, or lavapipe / the reference backend without a GPU).\n"
"Directories are walked recursively in name order; symbolic links to\n"
"directories and special files met on the way are skipped. Options may come\n"
"before or after the PATHs; '--' ends them.\n"
"\n"
"Patterns (at least one -F or -e; all of them form one rule set, numbered in\n"
"the order given):\n"
"  -F FILE          literal patterns, one per line (empty lines skipped, a\n"
"                   trailing CR dropped; nothing is regex syntax); '-' is stdin\n"
"  -e REGEX         a regex (Rust regex syntax on bytes, docs/RULES.md); repeatable\n"
"  -i, --ignore-case\n"
"                   ASCII case-insensitive matching\n"
"\n"
"Output (stdout), per file in the order the files were walked:\n"
"  (default)        PATH:END:PATTERN for every match, sorted by END then pattern.\n"
"                   END is the byte offset where the match ends (exclusive: the\n"
"                   match is the bytes just before END); every match end of every\n"
"                   pattern is reported, overlapping matches included. PATTERN is\n"
"                   the -e text or the -F line.\n"
"  --count          PATH:COUNT for each file with matches\n"
"  --json           one JSON object per line: {\"type\":\"match\",\"path\",\"end\",\n"
"                   \"pattern_id\",\"pattern\"} (or {\"type\":\"count\",...} with\n"
"                   --count), then {\"type\":\"summary\",...}. Strings that are not\n"
"                   UTF-8 get U+FFFD and an extra \"path_hex\"/\"pattern_hex\".\n"
"  A summary (files, bytes, matches, GB/s, jobs/s, backend, device, resident)\n"
"  goes to stderr at the end; a progress line too while scanning, if stderr is\n"
"  a terminal.\n"
"\n"
"Checking:\n"
"  --verify         scan every file again on the CPU (vyre_rule_set_scan_cpu)\n"
"                   and compare every (end, pattern); print the differences.\n"
"                   Keeps each file in memory until it is checked.\n"
"\n"
"Engine:\n"
"  --no-pump        read files with read() and copy them into the arena here,\n"
"                   instead of the io_uring pump (the default where io_uring works)\n"
"  --sqpoll, --no-sqpoll\n"
"                   have a kernel thread submit the pump's reads and opens on a\n"
"                   core of its own (io_uring SQPOLL; VYRE_PUMP_FLAG_SQPOLL), or\n"
"                   not. Default: on with 4 or more online CPUs, where it reads\n"
"                   many small files about twice as fast; off with fewer, where\n"
"                   that core is better spent scanning. Where the kernel refuses\n"
"                   it, the pump reads without it (and says so after --sqpoll)\n"
"  --backend B      auto (default; the VYRE_BACKEND environment variable\n"
"                   applies), vulkan or reference\n"
"  --device N       Vulkan device index (default: VYRE_DEVICE, else the first GPU)\n"
"  --arena-bytes N  input arena size (default: the engine's, 64 MiB); K/M/G suffixes.\n"
"                   A file larger than a job (half the arena, at most 16 MiB) is\n"
"                   split into overlapping jobs (not possible, and an error, if a\n"
"                   pattern's matches have no length bound, like a.*b).\n"
"  --max-hits N     matches stored per job (default 16384); more are counted and\n"
"                   reported on stderr as truncated\n"
"  --queue-depth N  jobs in flight (default 256)\n"
"  -h, --help       this text\n"
"\n"
"Exit status: 0 if a match was found, 1 if none was (or --verify found a\n"
"difference), 2 on a usage, I/O or engine error (an unreadable file or\n"
"directory is reported on stderr, the scan goes on, and the exit status is 2).\n",
        out);
}

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROG " --help'.\n", stderr);
    exit(EXIT_TROUBLE);
}

/* "123", "64K", "16M", "1G" (powers of 1024). */
static uint64_t parse_size(const char *name, const char *s)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;
    errno = 0;
    if (*s < '0' || *s > '9') {
        usage_error("%s: not a number: '%s'", name, s);
    }
    v = strtoull(s, &end, 10);
    if (errno) {
        usage_error("%s: not a number: '%s'", name, s);
    }
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        default: usage_error("%s: not a number: '%s'", name, s);
        }
        if (end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0) {
            usage_error("%s: not a number: '%s'", name, s);
        }
    }
    if (v > UINT64_MAX / mul) {
        usage_error("%s: too large: '%s'", name, s);
    }
    return (uint64_t)v * mul;
}

static uint32_t parse_u32(const char *name, const char *s)
{
    uint64_t v = parse_size(name, s);
    if (v > UINT32_MAX) {
        usage_error("%s: too large: '%s'", name, s);
    }
    return (uint32_t)v;
}

static char **paths;    /* the PATH arguments, in order */
static size_t path_count;

/* Parses argv. Options and PATHs may be mixed; "--" ends the options. */
static void parse_args(int argc, char **argv)
{
    int i;
    unsigned regex_no = 0;
    int have_patterns = 0;
    opt.backend = VYRE_BACKEND_AUTO;
    opt.device_index = VYRE_DEVICE_DEFAULT;
    opt.max_hits = DEFAULT_MAX_HITS;
    opt.queue_depth = DEFAULT_QUEUE_DEPTH;
    opt.sqpoll = -1;
    paths = xmalloc((size_t)argc * sizeof *paths);

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[64];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                paths[path_count++] = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            paths[path_count++] = argv[i];  /* a PATH ('-' alone too: a file named "-") */
            continue;
        }
        /* Options taking a value: "-e X", "-eX", "--opt X", "--opt=X". */
        if ((a[1] == 'e' || a[1] == 'F') && a[0] == '-') {
            snprintf(name, sizeof name, "-%c", a[1]);
            if (a[2]) {
                val = a + 2;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                usage_error("%s needs an argument", name);
            }
            if (a[1] == 'e') {
                char origin[64];
                snprintf(origin, sizeof origin, "-e #%u", ++regex_no);
                if (val[0] == '\0') {
                    usage_error("-e: empty regex");
                }
                add_pattern(val, strlen(val), VYRE_PATTERN_REGEX, origin);
            } else if (load_literal_file(val) != 0) {
                exit(EXIT_TROUBLE);
            }
            have_patterns = 1;
            continue;
        }
        if (strncmp(a, "--", 2) == 0) {
            static const char *const with_value[] = {"--backend", "--device", "--arena-bytes", "--max-hits",
                                                     "--queue-depth"};
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            size_t k;
            int takes = 0;
            if (nlen >= sizeof name) {
                usage_error("unknown option '%s'", a);
            }
            memcpy(name, a, nlen);
            name[nlen] = '\0';
            for (k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
                if (strcmp(name, with_value[k]) == 0) {
                    takes = 1;
                }
            }
            if (takes) {
                if (eq) {
                    val = eq + 1;
                } else if (i + 1 < argc) {
                    val = argv[++i];
                } else {
                    usage_error("%s needs an argument", name);
                }
            } else if (eq) {
                usage_error("%s takes no argument", name);
            }
            if (strcmp(name, "--help") == 0) {
                usage(stdout);
                exit(0);
            } else if (strcmp(name, "--count") == 0) {
                opt.count = 1;
            } else if (strcmp(name, "--json") == 0) {
                opt.json = 1;
            } else if (strcmp(name, "--verify") == 0) {
                opt.verify = 1;
            } else if (strcmp(name, "--no-pump") == 0) {
                opt.no_pump = 1;
            } else if (strcmp(name, "--sqpoll") == 0) {
                opt.sqpoll = 1;
            } else if (strcmp(name, "--no-sqpoll") == 0) {
                opt.sqpoll = 0;
            } else if (strcmp(name, "--ignore-case") == 0) {
                opt.case_insensitive = 1;
            } else if (strcmp(name, "--backend") == 0) {
                if (strcmp(val, "auto") == 0) {
                    opt.backend = VYRE_BACKEND_AUTO;
                } else if (strcmp(val, "vulkan") == 0) {
                    opt.backend = VYRE_BACKEND_VULKAN;
                } else if (strcmp(val, "reference") == 0) {
                    opt.backend = VYRE_BACKEND_REFERENCE;
                } else {
                    usage_error("--backend: expected auto, vulkan or reference, not '%s'", val);
                }
            } else if (strcmp(name, "--device") == 0) {
                opt.device_index = parse_u32(name, val);
            } else if (strcmp(name, "--arena-bytes") == 0) {
                opt.arena_bytes = parse_size(name, val);
                if (opt.arena_bytes == 0) {
                    usage_error("--arena-bytes: must be at least 1");
                }
            } else if (strcmp(name, "--max-hits") == 0) {
                opt.max_hits = parse_u32(name, val);
                if (opt.max_hits == 0) {
                    usage_error("--max-hits: must be at least 1");
                }
            } else if (strcmp(name, "--queue-depth") == 0) {
                opt.queue_depth = parse_u32(name, val);
                if (opt.queue_depth == 0) {
                    usage_error("--queue-depth: must be at least 1");
                }
            } else {
                usage_error("unknown option '%s'", a);
            }
            continue;
        }
        /* Short flags, possibly grouped: -i, -h. */
        {
            const char *c;
            for (c = a + 1; *c; c++) {
                if (*c == 'i') {
                    opt.case_insensitive = 1;
                } else if (*c == 'h') {
                    usage(stdout);
                    exit(0);
                } else {
                    usage_error("unknown option '-%c'", *c);
                }
            }
        }
    }
    if (!have_patterns) {
        usage_error("no patterns: give -F FILE and/or -e REGEX");
    }
    if (path_count == 0) {
        usage_error("no PATH to scan");
    }
}

/* ------------------------------------------------------------- scan state */

typedef struct match {
    uint64_t end;       /* exclusive end offset in the file */
    uint32_t pattern;
} match;

/* A job that returned VYRE_E_HITS_TRUNCATED (kept for the message and --verify). */
typedef struct trunc_job {
    uint64_t owned_start, owned_end;    /* owned ends (owned_start, owned_end] */
    uint64_t hit_count;                 /* the engine's true count of the owned matches */
    uint32_t hits_stored;
} trunc_job;

typedef struct file_rec {
    struct file_rec *next;      /* walk order */
    char *path;
    uint64_t bytes;             /* bytes read */
    uint32_t jobs_total;
    uint32_t jobs_done;
    int reading_done;
    int failed;                 /* read error, job error or too large: no verify */
    match *hits;
    size_t hit_count, hit_cap;
    trunc_job *trunc;
    size_t trunc_count, trunc_cap;
    uint8_t *data;              /* --verify: every byte read */
    size_t data_len, data_cap;
} file_rec;

typedef struct job_slot {
    file_rec *file;             /* NULL: slot free */
    uint32_t generation;
    uint64_t base, len;         /* file bytes [base, base + len) */
    uint64_t owned_start, owned_end;
    uint64_t alloc_seq;         /* arena allocation, or UINT64_MAX for none */
} job_slot;

/* One arena range, in allocation order. */
typedef struct arena_alloc {
    uint64_t start, len;
    int done;
} arena_alloc;

static struct {
    vyre_engine *engine;
    vyre_pump *pump;            /* NULL: --no-pump, read() and copy here */
    vyre_pump_info pump_info;
    vyre_engine_info info;
    vyre_rule_set *rs;
    uint32_t rule_set_id;
    uint64_t max_match_len;     /* L; UINT64_MAX when unbounded */

    uint64_t arena;             /* arena bytes */
    uint64_t job_max;           /* largest job */
    uint64_t chunk;             /* owned bytes of a split job; 0: no splitting */

    /* arena ring: allocations in order, as a circular queue of seq numbers */
    arena_alloc *allocs;
    size_t alloc_cap;           /* power of two */
    uint64_t alloc_head_seq;    /* oldest live allocation */
    uint64_t alloc_next_seq;    /* next allocation's seq */

    job_slot *slots;
    size_t slot_count, slot_cap;
    uint32_t *free_slots;
    size_t free_count, free_cap;
    size_t in_flight;

    file_rec *pending_head, *pending_tail;  /* files not printed yet, walk order */

    vyre_completion *comps;
    vyre_pump_result *results;  /* with the pump: its results instead of comps */
    size_t comp_cap;
    vyre_hit *hits;
    size_t hits_cap;

    uint8_t *stage;             /* read buffer: job_max + 1 bytes */

    /* totals */
    uint64_t files, bytes, jobs, matches, matched_files, skipped;
    uint64_t errors;            /* I/O, engine, job errors */
    uint64_t verify_failures, verified_files, truncated_files;
    double t_start, last_completion;
    double setup_s, warmup_s;      /* engine create + load; the first (empty) job */
    int stall_noted;
} S;

/* ---------------------------------------------------------------- arena */

static arena_alloc *alloc_at(uint64_t seq) { return &S.allocs[seq & (S.alloc_cap - 1)]; }

/* Takes len contiguous bytes (len > 0) if the ring has room; returns 0 if not. */
static int arena_take(uint64_t len, uint64_t *out_start, uint64_t *out_seq)
{
    uint64_t start;
    if (len > S.arena) {
        return 0;
    }
    if (S.alloc_head_seq == S.alloc_next_seq) {
        start = 0;  /* nothing live: the whole arena is free */
    } else {
        const arena_alloc *oldest = alloc_at(S.alloc_head_seq);
        const arena_alloc *newest = alloc_at(S.alloc_next_seq - 1);
        uint64_t tail = oldest->start;                 /* first byte still in use */
        uint64_t head = newest->start + newest->len;   /* first byte after the newest */
        if (head > tail) {
            /* live bytes are [tail, head): free are [head, arena) and [0, tail) */
            if (len <= S.arena - head) {
                start = head;
            } else if (len <= tail) {
                start = 0;
            } else {
                return 0;
            }
        } else {
            /* wrapped: live are [tail, arena) and [0, head); free is [head, tail) */
            if (len <= tail - head) {
                start = head;
            } else {
                return 0;
            }
        }
    }
    if (S.alloc_next_seq - S.alloc_head_seq == S.alloc_cap) {
        /* grow the circular queue, keeping seq -> index consistent */
        size_t old_cap = S.alloc_cap, new_cap = old_cap ? old_cap * 2 : 64;
        arena_alloc *n = xmalloc(new_cap * sizeof *n);
        uint64_t s;
        for (s = S.alloc_head_seq; s != S.alloc_next_seq; s++) {
            n[s & (new_cap - 1)] = S.allocs[s & (old_cap - 1)];
        }
        free(S.allocs);
        S.allocs = n;
        S.alloc_cap = new_cap;
    }
    *out_seq = S.alloc_next_seq++;
    alloc_at(*out_seq)->start = start;
    alloc_at(*out_seq)->len = len;
    alloc_at(*out_seq)->done = 0;
    *out_start = start;
    return 1;
}

static void arena_release(uint64_t seq)
{
    alloc_at(seq)->done = 1;
    while (S.alloc_head_seq != S.alloc_next_seq && alloc_at(S.alloc_head_seq)->done) {
        S.alloc_head_seq++;
    }
}

/* ---------------------------------------------------------------- output */

static int cmp_match(const void *a, const void *b)
{
    const match *x = a, *y = b;
    if (x->end != y->end) {
        return x->end < y->end ? -1 : 1;
    }
    return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

static void print_match_line(const file_rec *f, const match *m)
{
    const pattern *p = &patterns[m->pattern];
    if (opt.json) {
        fputs("{\"type\":\"match\",", stdout);
        json_field(stdout, "path", f->path, strlen(f->path));
        printf(",\"end\":%" PRIu64 ",\"pattern_id\":%" PRIu32 ",", m->end, m->pattern);
        json_field(stdout, "pattern", p->text, p->len);
        fputs("}\n", stdout);
    } else {
        fputs(f->path, stdout);
        printf(":%" PRIu64 ":", m->end);
        fwrite(p->text, 1, p->len, stdout);
        fputc('\n', stdout);
    }
}

/* ---------------------------------------------------------------- verify */

typedef struct cpu_hits {
    match *v;
    size_t n, cap;
} cpu_hits;

static int on_cpu_hit(void *ctx, uint32_t pattern_id, uint64_t end_offset)
{
    cpu_hits *h = ctx;
    grow((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v);
    h->v[h->n].end = end_offset;
    h->v[h->n].pattern = pattern_id;
    h->n++;
    return 0;
}

/* CPU scan of data[0, len); hits sorted by (end, pattern). Returns 0 or -1. */
static int cpu_scan(const uint8_t *data, size_t len, cpu_hits *out)
{
    vyre_status st;
    out->n = 0;
    st = vyre_rule_set_scan_cpu(S.rs, data, len, on_cpu_hit, out);
    if (st != VYRE_OK) {
        vyre_fail("vyre_rule_set_scan_cpu", st);
        return -1;
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof *out->v, cmp_match);
    }
    return 0;
}

/* The truncated job owning end e, if any (trunc[] is in file order). */
static const trunc_job *trunc_owner(const file_rec *f, uint64_t e)
{
    size_t i;
    for (i = 0; i < f->trunc_count; i++) {
        if (e > f->trunc[i].owned_start && e <= f->trunc[i].owned_end) {
            return &f->trunc[i];
        }
    }
    return NULL;
}

static void verify_diff(const file_rec *f, const char *side, const match *m, unsigned *shown, unsigned long *total)
{
    (*total)++;
    if (*shown < MAX_DIFFS_SHOWN) {
        const pattern *p = &patterns[m->pattern];
        (*shown)++;
        warnf("verify: %s: %s: end %" PRIu64 " pattern %" PRIu32 " (%.*s)", f->path, side, m->end, m->pattern,
              (int)(p->len > 60 ? 60 : p->len), p->text);
    }
}

/* Compares the engine's hits of f (sorted) with the CPU oracle's. Where a job
 * was truncated, the engine's stored hits there must be a subset of the
 * oracle's, and the job's true count must equal the oracle's count of the
 * matches ending in the job's owned bytes. Returns 1 if they agree. */
static cpu_hits cpu;    /* reused between files */

/* How many of the matches in h (sorted by end) end at or before e. */
static size_t ends_up_to(const cpu_hits *h, uint64_t e)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->v[mid].end <= e) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int verify_file(file_rec *f)
{
    unsigned shown = 0;
    unsigned long diffs = 0;
    size_t i = 0, j = 0, t;
    int ok = 1;

    if (cpu_scan(f->data, f->data_len, &cpu) != 0) {
        S.errors++;
        return 0;
    }
    while (i < f->hit_count || j < cpu.n) {
        int c;
        if (i == f->hit_count) {
            c = 1;
        } else if (j == cpu.n) {
            c = -1;
        } else {
            c = cmp_match(&f->hits[i], &cpu.v[j]);
        }
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            verify_diff(f, "engine only", &f->hits[i], &shown, &diffs);
            i++;
        } else {
            if (!trunc_owner(f, cpu.v[j].end)) {
                verify_diff(f, "cpu only", &cpu.v[j], &shown, &diffs);
            }
            j++;
        }
    }
    for (t = 0; t < f->trunc_count; t++) {
        const trunc_job *tj = &f->trunc[t];
        uint64_t owned = ends_up_to(&cpu, tj->owned_end) - ends_up_to(&cpu, tj->owned_start);
        if (owned != tj->hit_count) {
            diffs++;
            warnf("verify: %s: truncated job owning match ends (%" PRIu64 ", %" PRIu64 "]: engine counted %" PRIu64
                  " matches, the CPU %" PRIu64,
                  f->path, tj->owned_start, tj->owned_end, tj->hit_count, owned);
        }
    }
    if (diffs) {
        if (diffs > shown) {
            warnf("verify: %s: ... %lu differences in all", f->path, diffs);
        }
        ok = 0;
    }
    return ok;
}

/* ------------------------------------------------------- finishing a file */

static int file_complete(const file_rec *f)
{
    return f->reading_done && f->jobs_done == f->jobs_total;
}

static void free_file(file_rec *f)
{
    free(f->path);
    free(f->hits);
    free(f->trunc);
    free(f->data);
    free(f);
}

static int load_for_verify(file_rec *f);

/* Prints a completed file (and verifies it), then frees it. */
static void finish_file(file_rec *f)
{
    uint64_t count;
    size_t k;
    if (f->hit_count > 1) {
        qsort(f->hits, f->hit_count, sizeof *f->hits, cmp_match);
    }
    count = f->hit_count;
    if (f->trunc_count) {
        uint64_t unstored = 0;
        for (k = 0; k < f->trunc_count; k++) {
            unstored += f->trunc[k].hit_count - f->trunc[k].hits_stored;
        }
        /* The matches the engine counted but could not store are counted too
         * (each job counts only the matches ending in its own bytes, so the
         * total is exact). */
        count += unstored;
        S.truncated_files++;
        warnf("%s: matches truncated: %zu job%s found more than %" PRIu32 " match%s; %zu printed, %" PRIu64
              " more counted but not stored. Rerun with a larger --max-hits.",
              f->path, f->trunc_count, f->trunc_count == 1 ? "" : "s", S.info.max_hits_per_job,
              S.info.max_hits_per_job == 1 ? "" : "es", f->hit_count, unstored);
    }
    if (opt.verify && !f->failed && load_for_verify(f) == 0) {
        if (verify_file(f)) {
            S.verified_files++;
        } else {
            S.verify_failures++;
        }
    }
    progress_clear();
    if (count > 0) {
        S.matched_files++;
        S.matches += count;
        if (opt.count) {
            if (opt.json) {
                fputs("{\"type\":\"count\",", stdout);
                json_field(stdout, "path", f->path, strlen(f->path));
                printf(",\"count\":%" PRIu64 "}\n", count);
            } else {
                printf("%s:%" PRIu64 "\n", f->path, count);
            }
        } else {
            for (k = 0; k < f->hit_count; k++) {
                print_match_line(f, &f->hits[k]);
            }
        }
    }
    free_file(f);
}

/* Prints every completed file at the front of the walk order. */
static void flush_files(void)
{
    while (S.pending_head && file_complete(S.pending_head)) {
        file_rec *f = S.pending_head;
        S.pending_head = f->next;
        if (!S.pending_head) {
            S.pending_tail = NULL;
        }
        finish_file(f);
    }
}

/* ------------------------------------------------------------- progress */

static void progress_tick(int force)
{
    double t;
    char b[32];
    if (!progress_enabled) {
        return;
    }
    t = now_s();
    if (!force && (t - S.t_start < 1.0 || t - progress_last < 0.25)) {
        return;
    }
    progress_last = t;
    fprintf(stderr,
            "\r\033[K" PROG ": %" PRIu64 " file%s, %s read (%.1f MB/s), %" PRIu64 " match%s, %zu job%s in flight",
            S.files, S.files == 1 ? "" : "s", human_bytes(S.bytes, b, sizeof b),
            (double)S.bytes / (t - S.t_start) / 1e6, S.matches, S.matches == 1 ? "" : "es", S.in_flight,
            S.in_flight == 1 ? "" : "s");
    progress_shown = 1;
}

/* ---------------------------------------------------------- completions */

static void fatal_engine(void);
static void require_ok(const char *what, vyre_status st);

static void handle_completion(const vyre_completion *c, const vyre_hit *hits, size_t hits_returned)
{
    uint64_t idx = c->user_data & 0xFFFFFFFFu;
    uint32_t gen = (uint32_t)(c->user_data >> 32);
    job_slot *j;
    file_rec *f;

    if (idx >= S.slot_count || !S.slots[idx].file || S.slots[idx].generation != gen) {
        warnf("engine returned a completion for an unknown job (user_data 0x%016" PRIx64 ")", c->user_data);
        fatal_engine();
        return;
    }
    j = &S.slots[idx];
    f = j->file;

    if (c->status == VYRE_OK || c->status == VYRE_E_HITS_TRUNCATED) {
        size_t k;
        int bad = 0;
        if (c->first_hit > hits_returned || c->hits_stored > hits_returned - c->first_hit ||
            (c->status == VYRE_OK && c->hits_stored != c->hit_count) ||
            (c->status == VYRE_E_HITS_TRUNCATED && c->hits_stored >= c->hit_count)) {
            warnf("%s: inconsistent completion: first_hit %" PRIu64 ", hits_stored %" PRIu32 ", hit_count %" PRIu64
                  ", %zu hits returned, status %s",
                  f->path, c->first_hit, c->hits_stored, c->hit_count, hits_returned, vyre_status_str(c->status));
            bad = 1;
        }
        for (k = 0; !bad && k < c->hits_stored; k++) {
            const vyre_hit *h = &hits[c->first_hit + k];
            uint64_t e = j->base + h->end_offset;
            if (h->user_data != c->user_data || h->pattern_id >= pattern_count || h->end_offset == 0 ||
                h->end_offset > j->len || e <= j->owned_start || e > j->owned_end) {
                warnf("%s: invalid hit from the engine: user_data 0x%" PRIx64 " (job 0x%" PRIx64 "), end %" PRIu64
                      " (job of %" PRIu64 " bytes), pattern %" PRIu32,
                      f->path, h->user_data, c->user_data, h->end_offset, j->len, h->pattern_id);
                bad = 1;
                break;
            }
            grow((void **)&f->hits, &f->hit_cap, f->hit_count + 1, sizeof *f->hits);
            f->hits[f->hit_count].end = e;
            f->hits[f->hit_count].pattern = h->pattern_id;
            f->hit_count++;
        }
        if (bad) {
            f->failed = 1;
            S.errors++;
        } else if (c->status == VYRE_E_HITS_TRUNCATED) {
            trunc_job *t;
            grow((void **)&f->trunc, &f->trunc_cap, f->trunc_count + 1, sizeof *f->trunc);
            t = &f->trunc[f->trunc_count++];
            t->owned_start = j->owned_start;
            t->owned_end = j->owned_end;
            t->hit_count = c->hit_count;
            t->hits_stored = c->hits_stored;
        }
    } else {
        warnf("%s: scan job over bytes [%" PRIu64 ", %" PRIu64 ") failed: %s (%" PRId32 ")", f->path, j->base,
              j->base + j->len, vyre_status_str(c->status), c->status);
        f->failed = 1;
        S.errors++;
    }

    if (j->alloc_seq != UINT64_MAX) {
        arena_release(j->alloc_seq);
    }
    j->file = NULL;
    grow((void **)&S.free_slots, &S.free_cap, S.free_count + 1, sizeof *S.free_slots);
    S.free_slots[S.free_count++] = (uint32_t)idx;
    S.in_flight--;
    f->jobs_done++;
}

/* One pump result: a chunk's matches (their ends are file offsets, each
 * match comes once), or the error that ended the file's request. The
 * request's last result finishes the file. */
static void handle_result(const vyre_pump_result *r, const vyre_hit *hits, size_t hits_returned)
{
    file_rec *f;
    uint64_t k;
    if (r->flags & VYRE_PUMP_RESULT_DIRECT) {
        /* Only the warm-up job is enqueued directly, and it is collected before the pump exists. */
        warnf("the pump returned a direct job's completion (user_data 0x%016" PRIx64 ")", r->user_data);
        fatal_engine();
    }
    f = (file_rec *)(uintptr_t)r->user_data;
    if (r->status == VYRE_OK || r->status == VYRE_E_HITS_TRUNCATED) {
        if (r->first_hit > hits_returned || r->hits_stored > hits_returned - r->first_hit) {
            warnf("%s: inconsistent pump result: hits %" PRIu64 "+%" PRIu32 " of %zu returned", f->path,
                  r->first_hit, r->hits_stored, hits_returned);
            fatal_engine();
        }
        for (k = 0; k < r->hits_stored; k++) {
            const vyre_hit *h = &hits[r->first_hit + k];
            if (h->user_data != r->user_data || h->pattern_id >= pattern_count || h->end_offset <= r->file_offset ||
                h->end_offset > r->file_offset + r->length) {
                warnf("%s: invalid hit from the pump: end %" PRIu64 " outside (%" PRIu64 ", %" PRIu64 "], pattern %" PRIu32,
                      f->path, h->end_offset, r->file_offset, r->file_offset + r->length, h->pattern_id);
                f->failed = 1;
                S.errors++;
                break;
            }
            grow((void **)&f->hits, &f->hit_cap, f->hit_count + 1, sizeof *f->hits);
            f->hits[f->hit_count].end = h->end_offset;
            f->hits[f->hit_count].pattern = h->pattern_id;
            f->hit_count++;
        }
        if (r->status == VYRE_E_HITS_TRUNCATED) {
            trunc_job *t;
            grow((void **)&f->trunc, &f->trunc_cap, f->trunc_count + 1, sizeof *f->trunc);
            t = &f->trunc[f->trunc_count++];
            t->owned_start = r->file_offset;
            t->owned_end = r->file_offset + r->length;
            t->hit_count = r->hit_count;
            t->hits_stored = r->hits_stored;
        }
        f->bytes += r->length;
        S.bytes += r->length;
        S.jobs++;
        f->jobs_total++;
        f->jobs_done++;
    } else {
        if (r->status == -ENODATA) {
            warnf("%s: the file shrank while it was read (it ended at byte %" PRIu64 ")", f->path, r->file_offset);
        } else if (r->status < 0 && r->status > -1000) {
            warnf("%s: %s (at byte %" PRIu64 ")", f->path, strerror(-r->status), r->file_offset);
        } else if (r->status == VYRE_E_OUT_OF_RANGE) {
            warnf("%s: not scanned: a stream longer than a chunk (%" PRIu64 " bytes), and the patterns' matches have "
                  "no length bound, so it cannot be split; use a larger --arena-bytes or bounded patterns",
                  f->path, S.pump_info.chunk_bytes);
        } else {
            warnf("%s: scan from byte %" PRIu64 " failed: %s (%" PRId32 ")", f->path, r->file_offset,
                  vyre_status_str(r->status), r->status);
        }
        f->failed = 1;
        S.errors++;
    }
    if (r->flags & VYRE_PUMP_RESULT_LAST) {
        f->reading_done = 1;
        S.in_flight--;
    }
}

/* Collects completions: blocks until at least one arrives if block is set
 * (and jobs are in flight), else takes only what is ready. */
static void reap(int block)
{
    for (;;) {
        size_t nc = 0, nh = 0, k;
        vyre_status st;
        const char *call;
        if (S.in_flight == 0) {
            return;
        }
        if (S.pump) {
            call = "vyre_pump_drain";
            st = vyre_pump_drain(S.pump, S.results, S.comp_cap, S.hits, S.hits_cap, &nc, &nh,
                                 block ? WAIT_SLICE_MS : 0);
        } else if (block) {
            call = "vyre_engine_wait";
            st = vyre_engine_wait(S.engine, S.comps, S.comp_cap, S.hits, S.hits_cap, &nc, &nh, WAIT_SLICE_MS);
        } else {
            call = "vyre_engine_poll";
            st = vyre_engine_poll(S.engine, S.comps, S.comp_cap, S.hits, S.hits_cap, &nc, &nh);
        }
        if (st == VYRE_E_TIMEOUT && !block) {
            return;
        }
        if (st == VYRE_E_TIMEOUT) {
            progress_tick(0);
            if (!S.stall_noted && now_s() - S.last_completion > STALL_NOTE_S) {
                warnf("no completion for %.0f s; still waiting for %zu jobs", STALL_NOTE_S, S.in_flight);
                S.stall_noted = 1;
            }
            continue;
        }
        if (st == VYRE_E_BUFFER_TOO_SMALL) {
            /* Cannot happen with hits_cap >= max_hits_per_job; grow and retry. */
            if (S.hits_cap > ((size_t)1 << 28)) {
                vyre_fail(call, st);
                fatal_engine();
            }
            S.hits_cap *= 2;
            free(S.hits);
            S.hits = xmalloc(S.hits_cap * sizeof *S.hits);
            continue;
        }
        if (st != VYRE_OK) {
            vyre_fail(call, st);
            fatal_engine();
        }
        if (nc > S.comp_cap || nh > S.hits_cap) {
            warnf("engine returned %zu completions / %zu hits for buffers of %zu / %zu", nc, nh, S.comp_cap,
                  S.hits_cap);
            fatal_engine();
        }
        for (k = 0; k < nc; k++) {
            if (S.pump) {
                handle_result(&S.results[k], S.hits, nh);
            } else {
                handle_completion(&S.comps[k], S.hits, nh);
            }
        }
        if (nc > 0) {
            S.last_completion = now_s();
            S.stall_noted = 0;
            flush_files();
            progress_tick(0);
            return;
        }
        if (!block) {
            return;
        }
    }
}

/* ------------------------------------------------------------ enqueueing */

/* Enqueues file bytes stage[0, len) as the file's bytes [base, base + len),
 * owning the match ends in (owned_start, owned_end]. */
static void submit_job(file_rec *f, const uint8_t *data, uint64_t base, uint64_t len, uint64_t owned_start,
                       uint64_t owned_end)
{
    uint64_t off = 0, seq = UINT64_MAX;
    uint32_t idx;
    job_slot *j;
    vyre_work_item item;
    vyre_status st;
    double t_full = 0;

    if (len > 0) {
        while (!arena_take(len, &off, &seq)) {
            if (S.in_flight == 0) {
                warnf("internal error: a job of %" PRIu64 " bytes does not fit an empty arena of %" PRIu64, len,
                      S.arena);
                fatal_engine();
            }
            reap(1);
        }
        st = vyre_engine_write(S.engine, off, data, (size_t)len);
        require_ok("vyre_engine_write", st);
    }

    if (S.free_count) {
        idx = S.free_slots[--S.free_count];
    } else {
        grow((void **)&S.slots, &S.slot_cap, S.slot_count + 1, sizeof *S.slots);
        idx = (uint32_t)S.slot_count++;
        S.slots[idx].generation = 0;
        S.slots[idx].file = NULL;
    }
    j = &S.slots[idx];
    j->file = f;
    j->generation++;
    j->base = base;
    j->len = len;
    j->owned_start = owned_start;
    j->owned_end = owned_end;
    j->alloc_seq = seq;

    memset(&item, 0, sizeof item);
    item.input_offset = off;
    item.input_len = len;
    item.rule_set_id = S.rule_set_id;
    item.user_data = ((uint64_t)j->generation << 32) | idx;
    /* The bytes around the owned ones are context: the engine reports (and
     * counts) only the matches ending in (owned_start, owned_end]. */
    item.context_before = (uint32_t)(owned_start - base);
    item.context_after = (uint32_t)(base + len - owned_end);

    for (;;) {
        st = vyre_engine_enqueue(S.engine, &item);
        if (st == VYRE_OK) {
            break;
        }
        if (st != VYRE_E_QUEUE_FULL) {
            vyre_fail("vyre_engine_enqueue", st);
            fatal_engine();
        }
        if (S.in_flight > 0) {
            reap(1);
        } else {
            /* Full with nothing of ours in flight: give it a moment, not forever. */
            struct timespec ms = {0, 1000000};
            if (t_full == 0) {
                t_full = now_s();
            } else if (now_s() - t_full > 10.0) {
                vyre_fail("vyre_engine_enqueue (queue full with no job in flight for 10 s)", st);
                fatal_engine();
            }
            nanosleep(&ms, NULL);
        }
    }
    S.in_flight++;
    S.jobs++;
    f->jobs_total++;
}

/* ------------------------------------------------------------ file reading */

/* read() until len bytes or end of file; returns bytes read, or -1 (errno). */
static ssize_t read_full(int fd, uint8_t *buf, size_t len, int *eof)
{
    size_t got = 0;
    *eof = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (n == 0) {
            *eof = 1;
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static void keep_for_verify(file_rec *f, const uint8_t *bytes, size_t n)
{
    if (!opt.verify || n == 0) {
        return;
    }
    grow((void **)&f->data, &f->data_cap, f->data_len + n, 1);
    memcpy(f->data + f->data_len, bytes, n);
    f->data_len += n;
}

/* With the pump the program never sees the bytes: --verify reads the file
 * again. Returns 0, or -1 (reported, the file counts as an error). */
static int load_for_verify(file_rec *f)
{
    int fd, eof = 0;
    ssize_t got;
    if (!S.pump) {
        return 0;
    }
    fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        warnf("verify: %s: %s", f->path, strerror(errno));
        S.errors++;
        return -1;
    }
    grow((void **)&f->data, &f->data_cap, (size_t)f->bytes + 1, 1);
    got = read_full(fd, f->data, (size_t)f->bytes + 1, &eof);
    close(fd);
    if (got != (ssize_t)f->bytes) {
        warnf("verify: %s: changed since it was scanned", f->path);
        S.errors++;
        return -1;
    }
    f->data_len = (size_t)got;
    return 0;
}

static file_rec *new_file(const char *path)
{
    file_rec *f = xmalloc(sizeof *f);
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    if (S.pending_tail) {
        S.pending_tail->next = f;
    } else {
        S.pending_head = f;
    }
    S.pending_tail = f;
    return f;
}

/* Hands a regular file to the pump, waiting for results while it is full. */
static void pump_file(const char *path)
{
    file_rec *f = new_file(path);
    vyre_status st;
    S.files++;
    while ((st = vyre_pump_submit_path(S.pump, path, 0, VYRE_PUMP_TO_EOF, S.rule_set_id, (uint64_t)(uintptr_t)f)) ==
               VYRE_E_QUEUE_FULL &&
           S.in_flight > 0) {
        reap(1);
    }
    if (st == VYRE_OK) {
        S.in_flight++;
    } else {
        /* Refused: too large to split for these patterns (the message says why). */
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "%s: vyre_pump_submit_path", path);
        vyre_fail(what, st);
        S.errors++;
        S.files--;
        f->failed = 1;
        f->reading_done = 1;
    }
    reap(0);
    flush_files();
    progress_tick(0);
}

/* Reads a regular file and enqueues its jobs. The staging buffer holds the
 * file bytes [base, base + n); owned_start is where the next job's owned
 * ends begin. */
static void scan_file(const char *path)
{
    file_rec *f;
    int fd, eof = 0;
    uint64_t base = 0, n = 0, owned_start = 0;
    const uint64_t cap = S.job_max + 1;
    const uint64_t L = S.max_match_len;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        warnf("%s: %s", path, strerror(errno));
        S.errors++;
        return;
    }
    f = new_file(path);
    S.files++;

    for (;;) {
        /* Fill the staging buffer up to job_max + 1 bytes, or to the end of the file. */
        if (!eof && n < cap) {
            ssize_t got = read_full(fd, S.stage + n, (size_t)(cap - n), &eof);
            if (got < 0) {
                warnf("%s: %s", path, strerror(errno));
                S.errors++;
                f->failed = 1;
                break;
            }
            keep_for_verify(f, S.stage + n, (size_t)got);
            n += (uint64_t)got;
            f->bytes += (uint64_t)got;
            S.bytes += (uint64_t)got;
        }
        if (eof && n <= S.job_max) {
            /* The rest of the file fits one job: it owns every end up to the end of file. */
            submit_job(f, S.stage, base, n, owned_start, base + n);
            break;
        }
        /* More than one job's worth is left: split. */
        if (S.chunk == 0) {
            if (S.max_match_len == UINT64_MAX) {
                warnf("%s: not scanned: larger than %" PRIu64 " bytes (the arena) and the patterns have matches of "
                      "unbounded length, so the file cannot be split into jobs; use a larger --arena-bytes or "
                      "bounded patterns",
                      path, S.job_max);
            } else {
                warnf("%s: not scanned: larger than a job (%" PRIu64 " bytes), and the patterns' matches (up to "
                      "%" PRIu64 " bytes) are too long to split it; use a larger --arena-bytes",
                      path, S.job_max, S.max_match_len);
            }
            S.errors++;
            S.files--;              /* counted as an error, not as a scanned file */
            S.bytes -= f->bytes;
            f->failed = 1;
            break;
        }
        {
            uint64_t owned_end = owned_start + S.chunk;
            uint64_t job_len = owned_end + 1 - base;   /* includes one byte after owned_end */
            uint64_t next_base, drop;
            submit_job(f, S.stage, base, job_len, owned_start, owned_end);
            owned_start = owned_end;
            next_base = owned_start > L ? owned_start - L : 0;
            drop = next_base - base;
            memmove(S.stage, S.stage + drop, (size_t)(n - drop));
            n -= drop;
            base = next_base;
        }
        progress_tick(0);
    }
    close(fd);
    f->reading_done = 1;
    reap(0);
    flush_files();
    progress_tick(0);
}

/* ------------------------------------------------------------------ walk */

static int cmp_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *d)
{
    return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static void walk(const char *path, int top);

static void walk_dir(const char *path)
{
    struct dirent **list = NULL;
    int n, k;
    size_t plen = strlen(path);
    n = scandir(path, &list, not_dot, cmp_name);
    if (n < 0) {
        warnf("%s: %s", path, strerror(errno));
        S.errors++;
        return;
    }
    for (k = 0; k < n; k++) {
        size_t nlen = strlen(list[k]->d_name);
        int slash = plen > 0 && path[plen - 1] != '/';
        char *child = xmalloc(plen + (size_t)slash + nlen + 1);
        memcpy(child, path, plen);
        if (slash) {
            child[plen] = '/';
        }
        memcpy(child + plen + (size_t)slash, list[k]->d_name, nlen + 1);
        walk(child, 0);
        free(child);
        free(list[k]);
    }
    free(list);
}

/* A path named on the command line (top) is followed if it is a symbolic
 * link; inside a directory, links to files are scanned and links to
 * directories are skipped (no cycles). */
static void walk(const char *path, int top)
{
    struct stat st;
    if (top) {
        if (stat(path, &st) != 0) {
            warnf("%s: %s", path, strerror(errno));
            S.errors++;
            return;
        }
    } else {
        if (lstat(path, &st) != 0) {
            warnf("%s: %s", path, strerror(errno));
            S.errors++;
            return;
        }
        if (S_ISLNK(st.st_mode)) {
            if (stat(path, &st) != 0) {
                warnf("%s: %s", path, strerror(errno));  /* dangling link */
                S.errors++;
                return;
            }
            if (S_ISDIR(st.st_mode)) {
                S.skipped++;
                return;
            }
        }
    }
    if (S_ISDIR(st.st_mode)) {
        walk_dir(path);
    } else if (S_ISREG(st.st_mode)) {
        if (S.pump) {
            pump_file(path);
        } else {
            scan_file(path);
        }
    } else {
        if (top) {
            warnf("%s: skipped: not a regular file or directory", path);
        }
        S.skipped++;
    }
}

/* --------------------------------------------------------- engine set-up */

static void cleanup(void)
{
    vyre_pump_destroy(S.pump);
    S.pump = NULL;
    vyre_engine_destroy(S.engine);
    S.engine = NULL;
    vyre_rule_set_destroy(S.rs);
    S.rs = NULL;
}

static void fatal_engine(void)
{
    fflush(stdout);
    progress_clear();
    cleanup();
    exit(EXIT_TROUBLE);
}

/* Report a failed call and stop (see fatal_engine); no-op on VYRE_OK. */
static void require_ok(const char *what, vyre_status st)
{
    if (st != VYRE_OK) {
        vyre_fail(what, st);
        fatal_engine();
    }
}

/* Compiles every pattern; on failure, finds and names the first bad one. */
static void compile_rules(void)
{
    vyre_rule_set_options ro;
    vyre_pattern *vp = xmalloc((pattern_count ? pattern_count : 1) * sizeof *vp);
    vyre_status st;
    size_t k;

    st = vyre_rule_set_options_init(&ro);
    if (st != VYRE_OK) {
        vyre_fail("vyre_rule_set_options_init", st);
        exit(EXIT_TROUBLE);
    }
    if (opt.case_insensitive) {
        ro.flags |= VYRE_RULE_CASE_INSENSITIVE;
    }
    for (k = 0; k < pattern_count; k++) {
        vp[k].bytes = (const uint8_t *)patterns[k].text;
        vp[k].len = patterns[k].len;
        vp[k].kind = patterns[k].kind;
    }
    st = vyre_rule_set_compile(&ro, vp, pattern_count, &S.rs);
    if (st != VYRE_OK) {
        char msg[1024];
        const char *at;
        msg[0] = '\0';
        vyre_last_error_message(msg, sizeof msg, NULL);
        vyre_fail("vyre_rule_set_compile", st);
        /* The message names a bad pattern by index ("pattern 3 ..."): say where it came from. */
        for (at = strstr(msg, "pattern "); at; at = strstr(at + 1, "pattern ")) {
            unsigned long idx;
            if (at[8] < '0' || at[8] > '9') {
                continue;
            }
            idx = strtoul(at + 8, NULL, 10);
            if (idx < pattern_count) {
                warnf("pattern %lu is %s: '%s'", idx, patterns[idx].origin, patterns[idx].text);
            }
            break;
        }
        free(vp);
        exit(EXIT_TROUBLE);
    }
    free(vp);
}

static void setup_engine(void)
{
    vyre_engine_options eo;
    vyre_rule_set_info ri;
    vyre_status st;

    memset(&ri, 0, sizeof ri);
    ri.struct_size = sizeof ri;
    st = vyre_rule_set_get_info(S.rs, &ri);
    require_ok("vyre_rule_set_get_info", st);
    /* A library older than the max_match_len field leaves struct_size at 32:
     * nothing is known about match lengths then, so files are not split. */
    if (ri.struct_size < sizeof ri || ri.max_match_len == VYRE_MATCH_LEN_UNBOUNDED) {
        S.max_match_len = UINT64_MAX;
    } else {
        S.max_match_len = ri.max_match_len;
    }

    st = vyre_engine_options_init(&eo);
    require_ok("vyre_engine_options_init", st);
    eo.backend = opt.backend;
    eo.device_index = opt.device_index;
    eo.arena_bytes = opt.arena_bytes;
    eo.max_hits_per_job = opt.max_hits;
    eo.queue_depth = opt.queue_depth;
    st = vyre_engine_create(&eo, &S.engine);
    require_ok("vyre_engine_create", st);
    memset(&S.info, 0, sizeof S.info);
    S.info.struct_size = sizeof S.info;
    st = vyre_engine_get_info(S.engine, &S.info);
    require_ok("vyre_engine_get_info", st);
    st = vyre_engine_load_rule_set(S.engine, S.rs, &S.rule_set_id);
    require_ok("vyre_engine_load_rule_set", st);

    /* Job sizes. */
    S.arena = S.info.arena_bytes;
    if (S.arena == 0) {
        warnf("the engine reports an empty arena");
        fatal_engine();
    }
    if (S.max_match_len == UINT64_MAX) {
        S.job_max = min_u64(S.arena, VYRE_ENGINE_MAX_JOB_BYTES);  /* one job per file */
        S.chunk = 0;
    } else {
        S.job_max = min_u64(max_u64(S.arena / 2, 1), min_u64(MAX_JOB_BYTES, VYRE_ENGINE_MAX_JOB_BYTES));
        /* a split job: up to L bytes before its owned range, 1 byte after */
        S.chunk = S.job_max > S.max_match_len + 1 ? S.job_max - S.max_match_len - 1 : 0;
    }
    S.stage = xmalloc((size_t)S.job_max + 1);

    S.comp_cap = COMPLETION_BATCH;
    S.comps = xmalloc(S.comp_cap * sizeof *S.comps);
    S.results = xmalloc(S.comp_cap * sizeof *S.results);
    S.hits_cap = max_u64(S.info.max_hits_per_job, 1u << 16);
    S.hits = xmalloc(S.hits_cap * sizeof *S.hits);
}

/* Runs one empty job and waits for it before the clock starts: a kernel
 * that compiles or starts lazily (lavapipe compiles its shader on first
 * use) would otherwise be counted as scanning time. user_data 0 is never a
 * real job's (their generation, in the high word, starts at 1). */
static void warm_up(void)
{
    vyre_work_item item;
    vyre_status st;
    double t0 = now_s();
    memset(&item, 0, sizeof item);
    item.rule_set_id = S.rule_set_id;
    for (;;) {
        st = vyre_engine_enqueue(S.engine, &item);
        if (st == VYRE_OK) {
            break;
        }
        if (st != VYRE_E_QUEUE_FULL || now_s() - t0 > 60.0) {
            vyre_fail("vyre_engine_enqueue (first job)", st);
            fatal_engine();
        }
    }
    for (;;) {
        size_t nc = 0, nh = 0;
        st = vyre_engine_wait(S.engine, S.comps, S.comp_cap, S.hits, S.hits_cap, &nc, &nh, WAIT_SLICE_MS);
        if (st == VYRE_E_TIMEOUT) {
            if (progress_enabled) {
                fprintf(stderr, "\r\033[K" PROG ": starting the engine (%.0f s)", now_s() - t0);
                progress_shown = 1;
            }
            continue;
        }
        require_ok("vyre_engine_wait (first job)", st);
        if (nc == 0) {
            continue;
        }
        if (nc != 1 || S.comps[0].user_data != 0 || S.comps[0].status != VYRE_OK || S.comps[0].hit_count != 0) {
            warnf("the first (empty) job completed wrongly: %zu completions, user_data %" PRIu64 ", status %s, "
                  "%" PRIu64 " hits",
                  nc, S.comps[0].user_data, vyre_status_str(S.comps[0].status), S.comps[0].hit_count);
            fatal_engine();
        }
        break;
    }
    progress_clear();
    S.warmup_s = now_s() - t0;
}

/* The pump over the whole arena; without io_uring the program says so and
 * reads files itself. Patterns of unbounded length cannot split a file, so
 * their chunks are as large as the pump allows (a small file still takes
 * only its own size of the arena). */
static void setup_pump(void)
{
    vyre_pump_options po;
    vyre_status st = vyre_pump_options_init(&po);
    require_ok("vyre_pump_options_init", st);
    if (S.max_match_len == UINT64_MAX && S.arena > 128) {
        po.chunk_bytes = min_u64(S.arena - 64, UINT32_MAX - 1);
    }
    int sqpoll = opt.sqpoll >= 0 ? opt.sqpoll : sysconf(_SC_NPROCESSORS_ONLN) >= 4;
    st = VYRE_E_UNSUPPORTED;
    if (sqpoll) {
        po.flags |= VYRE_PUMP_FLAG_SQPOLL;
        st = vyre_pump_create(S.engine, &po, &S.pump);
        if (st == VYRE_E_UNSUPPORTED) {
            /* Older kernels refuse SQPOLL to unprivileged processes. */
            if (opt.sqpoll == 1) {
                vyre_fail("vyre_pump_create with --sqpoll (reading without it)", st);
            }
            po.flags &= ~(uint32_t)VYRE_PUMP_FLAG_SQPOLL;
        }
    }
    if (st == VYRE_E_UNSUPPORTED) {
        st = vyre_pump_create(S.engine, &po, &S.pump);
    }
    if (st == VYRE_E_UNSUPPORTED) {
        vyre_fail("vyre_pump_create (reading with read() instead)", st);
        S.pump = NULL;
        return;
    }
    require_ok("vyre_pump_create", st);
    memset(&S.pump_info, 0, sizeof S.pump_info);
    S.pump_info.struct_size = sizeof S.pump_info;
    st = vyre_pump_get_info(S.pump, &S.pump_info);
    require_ok("vyre_pump_get_info", st);
}

static const char *backend_name(uint32_t b)
{
    switch (b) {
    case VYRE_BACKEND_VULKAN: return "vulkan";
    case VYRE_BACKEND_REFERENCE: return "reference";
    default: return "unknown";
    }
}

static void print_summary(double elapsed)
{
    char b1[32];
    fflush(stdout);  /* the matches first, also when stdout is a file or pipe */
    double gbps = elapsed > 0 ? (double)S.bytes / elapsed / 1e9 : 0.0;
    double jps = elapsed > 0 ? (double)S.jobs / elapsed : 0.0;
    progress_clear();
    fprintf(stderr,
            PROG ": %" PRIu64 " file%s (%s), %" PRIu64 " match%s in %" PRIu64 " file%s, %" PRIu64
            " job%s in %.3f s: %.3f GB/s, %.0f jobs/s\n",
            S.files, S.files == 1 ? "" : "s", human_bytes(S.bytes, b1, sizeof b1), S.matches,
            S.matches == 1 ? "" : "es", S.matched_files, S.matched_files == 1 ? "" : "s", S.jobs,
            S.jobs == 1 ? "" : "s", elapsed, gbps, jps);
    fprintf(stderr,
            PROG ": engine: %s backend on \"%s\", %s, %" PRIu32 " lanes; arena %s, queue depth %" PRIu32
            ", %" PRIu32 " hits per job; set up in %.2f s, first job %.2f s\n",
            backend_name(S.info.backend), (const char *)S.info.device_name,
            S.info.resident ? "resident kernel" : "one dispatch per batch (not resident)", S.info.lane_count,
            human_bytes(S.info.arena_bytes, b1, sizeof b1), S.info.queue_depth, S.info.max_hits_per_job, S.setup_s,
            S.warmup_s);
    fprintf(stderr, PROG ": rules: %zu pattern%s%s, ", pattern_count, pattern_count == 1 ? "" : "s",
            opt.case_insensitive ? " (ASCII case-insensitive)" : "");
    if (S.max_match_len == UINT64_MAX) {
        fprintf(stderr, "matches of unbounded length (files larger than %s are not scanned)\n",
                S.pump ? "a chunk" : "the arena");
    } else if (S.pump) {
        fprintf(stderr, "matches up to %" PRIu64 " bytes\n", S.max_match_len);
    } else {
        fprintf(stderr, "matches up to %" PRIu64 " bytes; jobs of up to %s\n", S.max_match_len,
                human_bytes(S.job_max, b1, sizeof b1));
    }
    if (S.pump) {
        fprintf(stderr, PROG ": ingest: io_uring pump, %s path (reads straight into the arena), chunks of %s%s\n",
                S.pump_info.path == VYRE_PUMP_PATH_DIRECT ? "direct" : "unknown",
                human_bytes(S.pump_info.chunk_bytes, b1, sizeof b1),
                (S.pump_info.flags & VYRE_PUMP_FLAG_SQPOLL) ? ", submitted by a kernel thread (SQPOLL)" : "");
    } else {
        fprintf(stderr, PROG ": ingest: read() and a copy into the arena\n");
    }
    if (S.skipped) {
        fprintf(stderr, PROG ": skipped %" PRIu64 " symbolic link%s to directories or special files\n", S.skipped,
                S.skipped == 1 ? "" : "s");
    }
    if (S.truncated_files) {
        fprintf(stderr, PROG ": %" PRIu64 " file%s had more matches than --max-hits per job (see above)\n",
                S.truncated_files, S.truncated_files == 1 ? "" : "s");
    }
    if (opt.verify) {
        if (S.verify_failures) {
            fprintf(stderr, PROG ": verify: FAILED: %" PRIu64 " file%s from the CPU scan, %" PRIu64 " agree%s\n",
                    S.verify_failures, S.verify_failures == 1 ? " differs" : "s differ", S.verified_files,
                    S.verified_files == 1 ? "s" : "");
        } else {
            fprintf(stderr, PROG ": verify: OK: %" PRIu64 " file%s with the CPU scan (vyre_rule_set_scan_cpu)\n",
                    S.verified_files, S.verified_files == 1 ? " agrees" : "s agree");
        }
    }
    if (S.errors) {
        fprintf(stderr, PROG ": %" PRIu64 " error%s (see above)\n", S.errors, S.errors == 1 ? "" : "s");
    }
    if (opt.json) {
        printf("{\"type\":\"summary\",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"matches\":%" PRIu64
               ",\"matched_files\":%" PRIu64 ",\"jobs\":%" PRIu64 ",\"seconds\":%.6f,\"gb_per_s\":%.6f,"
               "\"jobs_per_s\":%.1f,\"backend\":\"%s\",",
               S.files, S.bytes, S.matches, S.matched_files, S.jobs, elapsed, gbps, jps, backend_name(S.info.backend));
        json_field(stdout, "device", (const char *)S.info.device_name,
                   strnlen((const char *)S.info.device_name, sizeof S.info.device_name));
        printf(",\"ingest\":\"%s\",\"sqpoll\":%s", S.pump ? "pump" : "read",
               S.pump && (S.pump_info.flags & VYRE_PUMP_FLAG_SQPOLL) ? "true" : "false");
        printf(",\"resident\":%s,\"lanes\":%" PRIu32 ",\"setup_seconds\":%.6f,\"first_job_seconds\":%.6f,"
               "\"truncated_files\":%" PRIu64 ",\"errors\":%" PRIu64,
               S.info.resident ? "true" : "false", S.info.lane_count, S.setup_s, S.warmup_s, S.truncated_files,
               S.errors);
        if (opt.verify) {
            printf(",\"verify\":{\"ok\":%s,\"files_agree\":%" PRIu64 ",\"files_differ\":%" PRIu64 "}",
                   S.verify_failures ? "false" : "true", S.verified_files, S.verify_failures);
        }
        fputs("}\n", stdout);
    }
}

int main(int argc, char **argv)
{
    size_t k;
    double elapsed;

    parse_args(argc, argv);
    progress_enabled = isatty(STDERR_FILENO);

    compile_rules();
    S.setup_s = now_s();
    setup_engine();
    S.setup_s = now_s() - S.setup_s;
    warm_up();
    if (!opt.no_pump) {
        setup_pump();
    }

    S.t_start = now_s();
    S.last_completion = S.t_start;
    for (k = 0; k < path_count; k++) {
        walk(paths[k], 1);
        reap(0);
    }
    while (S.in_flight > 0) {
        reap(1);
    }
    flush_files();
    elapsed = now_s() - S.t_start;
    if (S.pending_head) {
        warnf("internal error: files left unprinted");
        S.errors++;
    }

    print_summary(elapsed);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        warnf("write error on standard output");
        S.errors++;
    }
    cleanup();
    free(S.stage);
    free(S.comps);
    free(S.results);
    free(S.hits);
    free(S.slots);
    free(S.free_slots);
    free(S.allocs);
    for (k = 0; k < pattern_count; k++) {
        free(patterns[k].text);
        free(patterns[k].origin);
    }
    free(patterns);
    free(paths);
    free(cpu.v);

    if (S.errors) {
        return EXIT_TROUBLE;
    }
    if (S.verify_failures) {
        return EXIT_NO_MATCH;
    }
    return S.matches > 0 ? EXIT_MATCH : EXIT_NO_MATCH;
}
