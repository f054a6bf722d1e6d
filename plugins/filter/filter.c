/*
 * filter — drops the events that do not match an expression over the fields
 * of the session's data source.
 *
 *     expr    := group ('|' group)*          any group matches (or)
 *     group   := clause (',' clause)*        every clause matches (and)
 *     clause  := FIELD OP VALUE
 *     OP      := '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '!~'
 *     VALUE   := bare text up to the next ',' or '|' (blanks around it trimmed)
 *              | '"' text '"'   (\" and \\ are escapes; ',' and '|' are literal)
 *
 * e.g. `comm~^ba,uid==0|pid<100`. The expression is compiled once, at
 * instantiate, against the fields the data source has at that moment: an
 * unknown field or a value that does not fit the field's type is an error
 * there (so `ophostd --check` reports it). On the hot path each clause is one
 * type-specialised loop that narrows a list of candidate events: a group
 * starts from the events no earlier group matched and each of its clauses
 * only sees the events its previous clauses kept, so the work follows the
 * events still undecided. Events that match no group are dropped by
 * compacting sel[] in order (no record is copied).
 *
 * Two operators share this code: "filter" runs right after the gadget
 * (OPHOST_PRIORITY_EARLY_FILTER), so the events it drops cost no enrichment;
 * "filter-late" runs after the enrichers (OPHOST_PRIORITY_TRANSFORM) and sees
 * the fields they add.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ophost/ophost.h>

#include "schema.h"

static const struct ophost_host *host;

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MATCH, OP_NMATCH, _OP_MAX };

static const char *const op_text[_OP_MAX] = { "==", "!=", "<", "<=", ">", ">=", "~", "!~" };

struct clause;
/* Narrows a candidate list: reads the n positions (indices into sel[]) of
 * idx, or 0..n-1 when idx is NULL, and writes those whose event matches to
 * out, in the same (ascending) order; returns how many. out may be idx. */
typedef uint32_t (*eval_fn)(const struct clause *c, const struct ophost_batch *b,
                            const uint32_t *idx, uint32_t n, uint32_t *out);
struct clause {
    eval_fn eval;
    ophost_field field;
    enum cmp_op op;
    union {
        uint64_t u;
        int64_t s;
        bool b;
    } v;
    char *data; /* string/bytes value */
    size_t len;
    bool result[3]; /* string/bytes: outcome for memcmp-order <, ==, > */
    bool has_re;
    regex_t re;
};

struct filter {
    struct ophost_ctx *ctx;
    const char *name; /* of the operator, for messages */
    struct ophost_datasource *ds;
    struct clause *clauses;
    size_t n_clauses;
    size_t *group_end; /* clauses[group_end[g-1] .. group_end[g]) form group g */
    size_t n_groups;
    /* Work arrays of cap entries, sized at start: the candidates of the
     * group being evaluated, the events no group has matched yet, and (with
     * several groups) a mark per event that some group matched. */
    uint32_t *cand, *undecided;
    bool *keep;
    uint32_t cap;
};

/* ------------------------------------------------------------ evaluation */

/* One loop per (integer type, operator) and per shape of the candidates
 * (all live events, or a list of positions): position i is written to out
 * unconditionally and counted only if its field compares true against the
 * constant, so there is no branch to mispredict. The batch is read through
 * locals: stores to out[] could alias *b otherwise and force reloads every
 * iteration. */
#define EVAL_INT(suffix, ctype, vmember, opname, OP)                                     \
    static uint32_t eval_##suffix##_##opname(const struct clause *c,                     \
                                             const struct ophost_batch *b,               \
                                             const uint32_t *idx, uint32_t n,            \
                                             uint32_t *out) {                            \
        const ctype v = (ctype) c->v.vmember;                                            \
        const uint32_t *sel = b->sel, size = b->record_size;                             \
        const uint8_t *base = b->records + c->field.offset;                              \
        uint32_t m = 0;                                                                  \
        if (!idx) {                                                                      \
            for (uint32_t i = 0; i < n; i++) {                                           \
                ctype x;                                                                 \
                memcpy(&x, base + (size_t) sel[i] * size, sizeof(x));                    \
                out[m] = i;                                                              \
                m += x OP v;                                                             \
            }                                                                            \
        } else {                                                                         \
            for (uint32_t j = 0; j < n; j++) {                                           \
                const uint32_t i = idx[j];                                               \
                ctype x;                                                                 \
                memcpy(&x, base + (size_t) sel[i] * size, sizeof(x));                    \
                out[m] = i;                                                              \
                m += x OP v;                                                             \
            }                                                                            \
        }                                                                                \
        return m;                                                                        \
    }
#define EVAL_INT_ALL(suffix, ctype, vmember)       \
    EVAL_INT(suffix, ctype, vmember, eq, ==)       \
    EVAL_INT(suffix, ctype, vmember, ne, !=)       \
    EVAL_INT(suffix, ctype, vmember, lt, <)        \
    EVAL_INT(suffix, ctype, vmember, le, <=)       \
    EVAL_INT(suffix, ctype, vmember, gt, >)        \
    EVAL_INT(suffix, ctype, vmember, ge, >=)       \
    static const eval_fn eval_##suffix[6] = { eval_##suffix##_eq, eval_##suffix##_ne, \
                                              eval_##suffix##_lt, eval_##suffix##_le, \
                                              eval_##suffix##_gt, eval_##suffix##_ge };

EVAL_INT_ALL(u8, uint8_t, u)
EVAL_INT_ALL(u16, uint16_t, u)
EVAL_INT_ALL(u32, uint32_t, u)
EVAL_INT_ALL(u64, uint64_t, u)
EVAL_INT_ALL(s32, int32_t, s)
EVAL_INT_ALL(s64, int64_t, s)

/* The other types test one event at a time, through test(c, b, i) for the
 * event at position i; the loop is the same as above. The batch is copied
 * to a local so that the stores to out[] do not force reloads of it. */
#define EVAL_EACH(name, test)                                                            \
    static uint32_t name(const struct clause *c, const struct ophost_batch *batch,       \
                         const uint32_t *idx, uint32_t n, uint32_t *out) {               \
        const struct ophost_batch local = *batch, *b = &local;                           \
        uint32_t m = 0;                                                                  \
        if (!idx) {                                                                      \
            for (uint32_t i = 0; i < n; i++) {                                           \
                out[m] = i;                                                              \
                m += test(c, b, i);                                                      \
            }                                                                            \
        } else {                                                                         \
            for (uint32_t j = 0; j < n; j++) {                                           \
                out[m] = idx[j];                                                         \
                m += test(c, b, idx[j]);                                                 \
            }                                                                            \
        }                                                                                \
        return m;                                                                        \
    }

static inline bool test_bool(const struct clause *c, const struct ophost_batch *b, uint32_t i) {
    /* != was compiled as == with the value negated */
    return (b->records[(size_t) b->sel[i] * b->record_size + c->field.offset] != 0) == c->v.b;
}
EVAL_EACH(eval_bool, test_bool)

/* String and bytes fields: an unset value reads as empty. */
static const char *get_data(const struct ophost_batch *b, uint32_t i, ophost_field f,
                            size_t *ret_len) {
    const char *s = ophost_event_get_string(b, ophost_batch_event(b, i), f, ret_len);
    if (!s) {
        *ret_len = 0;
        return "";
    }
    return s;
}

static inline bool test_data(const struct clause *c, const struct ophost_batch *b, uint32_t i) {
    size_t len;
    const char *s = get_data(b, i, c->field, &len);
    int d = memcmp(s, c->data, len < c->len ? len : c->len);
    if (d == 0)
        d = len < c->len ? -1 : len > c->len;
    return c->result[d < 0 ? 0 : d > 0 ? 2 : 1];
}
EVAL_EACH(eval_data, test_data)

/* A regex that is a plain literal with optional ^ and $ anchors: matched
 * with memcmp/memmem instead of regexec (which allocates per call in glibc).
 * c->data/len hold the literal, c->v.u the anchors (1 = ^, 2 = $). */
static uint32_t eval_literal(const struct clause *c, const struct ophost_batch *batch,
                             const uint32_t *idx, uint32_t n, uint32_t *out) {
    const struct ophost_batch local = *batch, *b = &local; /* not reloaded after stores */
    const bool start = c->v.u & 1, end = c->v.u & 2, want = c->op == OP_MATCH;
    const char *lit = c->data;
    const size_t lit_len = c->len;
    uint32_t m = 0;
    for (uint32_t j = 0; j < n; j++) {
        const uint32_t i = idx ? idx[j] : j;
        size_t len;
        const char *s = get_data(b, i, c->field, &len);
        bool match;
        if (start && end)
            match = len == lit_len && memcmp(s, lit, len) == 0;
        else if (start)
            match = len >= lit_len && memcmp(s, lit, lit_len) == 0;
        else if (end)
            match = len >= lit_len && memcmp(s + len - lit_len, lit, lit_len) == 0;
        else
            match = memmem(s, len, lit, lit_len) != NULL;
        out[m] = i;
        m += match == want;
    }
    return m;
}

static inline bool test_regex(const struct clause *c, const struct ophost_batch *b, uint32_t i) {
    size_t len;
    return (regexec(&c->re, get_data(b, i, c->field, &len), 0, NULL, 0) == 0) ==
           (c->op == OP_MATCH);
}
EVAL_EACH(eval_regex, test_regex)

/* ---------------------------------------------------------- compilation */

static int unknown_field(struct filter *f, const char *name) {
    const char *hint = host->field_closest(f->ctx, f->ds, name);
    char list[512];

    if (hint)
        return host->error(f->ctx, -ENOENT, "%s: unknown field '%s' (did you mean '%s'?)",
                           f->name, name, hint);
    schema_list_fields(host, f->ctx, f->ds, list, sizeof(list));
    if (strcmp(f->name, "filter") == 0)
        return host->error(f->ctx, -ENOENT,
                           "%s: unknown field '%s' (it sees the gadget's fields: %s; "
                           "use filter-late for fields added by enrichers)",
                           f->name, name, list);
    return host->error(f->ctx, -ENOENT, "%s: unknown field '%s' (fields: %s)", f->name, name,
                       list);
}

static int bad_value(struct filter *f, const char *field, ophost_field fd, const char *value,
                     const char *why) {
    return host->error(f->ctx, -EINVAL, "%s: value '%s' for field '%s' (%s) %s", f->name, value,
                       field, schema_type_name(fd.type), why);
}

enum parsed { PARSED, NOT_A_NUMBER, OUT_OF_RANGE };

/* Decimal or 0x-hex. */
static enum parsed parse_u64(const char *s, uint64_t *ret) {
    char *end;
    int base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    if (!isdigit((unsigned char) s[0]))
        return NOT_A_NUMBER;
    errno = 0;
    *ret = strtoull(s, &end, base);
    if (*end != '\0' || end == s + (base == 16 ? 2 : 0))
        return NOT_A_NUMBER;
    return errno == ERANGE ? OUT_OF_RANGE : PARSED;
}

static enum parsed parse_s64(const char *s, int64_t *ret) {
    uint64_t u;
    bool neg = s[0] == '-';
    enum parsed p = parse_u64(s + (neg || s[0] == '+'), &u);

    if (p != PARSED)
        return p;
    if (neg ? u > (uint64_t) INT64_MAX + 1 : u > (uint64_t) INT64_MAX)
        return OUT_OF_RANGE;
    *ret = neg ? (int64_t) (0 - u) : (int64_t) u;
    return PARSED;
}

/* RFC 3339 ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00.5+02:00") to
 * nanoseconds since the epoch. */
static bool parse_rfc3339(const char *s, uint64_t *ret) {
    struct tm tm = { 0 };
    int year, mon, day, hour, min, sec, consumed = 0;
    uint64_t frac = 0, ns;
    int64_t offset = 0;
    time_t t;

    if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec,
               &consumed) != 6 || consumed != 19)
        return false;
    s += consumed;
    if (*s == '.') {
        int digits = 0;
        for (s++; isdigit((unsigned char) *s); s++, digits++)
            if (digits < 9)
                frac = frac * 10 + (uint64_t) (*s - '0');
        if (digits == 0)
            return false;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om, n = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return false;
        offset = (int64_t) (oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
        s += 6;
    } else {
        return false;
    }
    if (*s || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t) -1 || (int64_t) t - offset < 0)
        return false;
    ns = (uint64_t) ((int64_t) t - offset);
    if (ns > (UINT64_MAX - frac) / 1000000000u)
        return false;
    *ret = ns * 1000000000u + frac;
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char) tolower((unsigned char) c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Finds field name among the fields f sees, as field_at lists them in
 * instantiate: those added before it. Not with field_find: for a field an
 * enricher adds later, the host would advise a dependency on it, while the
 * fix for a filter is filter-late, which unknown_field names. */
static int find_field(struct filter *f, const char *name, ophost_field *ret) {
    size_t n = host->field_count(f->ctx, f->ds);

    for (size_t i = 0; i < n; i++) {
        const char *fname;
        int r = host->field_at(f->ctx, f->ds, i, &fname, ret);
        if (r < 0)
            return r;
        if (strcmp(fname, name) == 0)
            return 0;
    }
    return -ENOENT;
}

/* Gives clause c its type-specific value and loop. */
static int compile_clause(struct filter *f, struct clause *c, const char *field,
                          const char *value) {
    ophost_field fd;
    int r = find_field(f, field, &fd);
    bool ordered = c->op <= OP_GE;

    if (r == -ENOENT)
        return unknown_field(f, field);
    if (r < 0)
        return host->error(f->ctx, r, "%s: cannot look up field '%s': %s", f->name, field,
                           strerror(-r));
    c->field = fd;
    if ((c->op == OP_MATCH || c->op == OP_NMATCH) && fd.type != OPHOST_FIELD_STRING)
        return host->error(f->ctx, -EINVAL,
                           "%s: operator '%s' needs a string field; '%s' is %s", f->name,
                           op_text[c->op], field, schema_type_name(fd.type));

    switch (fd.type) {
    case OPHOST_FIELD_U8:
    case OPHOST_FIELD_U16:
    case OPHOST_FIELD_U32:
    case OPHOST_FIELD_U64:
    case OPHOST_FIELD_TIMESTAMP: {
        static const uint64_t max[] = { 0, UINT8_MAX, UINT16_MAX, UINT32_MAX, UINT64_MAX };
        enum parsed p = parse_u64(value, &c->v.u);
        if (fd.type == OPHOST_FIELD_TIMESTAMP) {
            if (p == NOT_A_NUMBER && !parse_rfc3339(value, &c->v.u))
                return bad_value(f, field, fd, value,
                                 "is neither nanoseconds since the epoch nor an RFC 3339 time");
            if (p == OUT_OF_RANGE)
                return bad_value(f, field, fd, value, "is out of range");
            c->eval = eval_u64[c->op];
            break;
        }
        if (p == NOT_A_NUMBER)
            return bad_value(f, field, fd, value, "is not an unsigned integer");
        if (p == OUT_OF_RANGE || c->v.u > max[fd.type])
            return bad_value(f, field, fd, value, "is out of range");
        c->eval = fd.type == OPHOST_FIELD_U8    ? eval_u8[c->op]
                  : fd.type == OPHOST_FIELD_U16 ? eval_u16[c->op]
                  : fd.type == OPHOST_FIELD_U32 ? eval_u32[c->op]
                                                : eval_u64[c->op];
        break;
    }
    case OPHOST_FIELD_S32:
    case OPHOST_FIELD_S64:
        switch (parse_s64(value, &c->v.s)) {
        case NOT_A_NUMBER: return bad_value(f, field, fd, value, "is not an integer");
        case OUT_OF_RANGE: return bad_value(f, field, fd, value, "is out of range");
        default: break;
        }
        if (fd.type == OPHOST_FIELD_S32 && (c->v.s < INT32_MIN || c->v.s > INT32_MAX))
            return bad_value(f, field, fd, value, "is out of range");
        c->eval = fd.type == OPHOST_FIELD_S32 ? eval_s32[c->op] : eval_s64[c->op];
        break;
    case OPHOST_FIELD_BOOL:
        if (c->op != OP_EQ && c->op != OP_NE)
            return host->error(f->ctx, -EINVAL, "%s: field '%s' is bool; only == and != apply",
                               f->name, field);
        if (strcmp(value, "true") == 0)
            c->v.b = true;
        else if (strcmp(value, "false") == 0)
            c->v.b = false;
        else
            return bad_value(f, field, fd, value, "is not true or false");
        if (c->op == OP_NE)
            c->v.b = !c->v.b;
        c->eval = eval_bool;
        break;
    case OPHOST_FIELD_STRING:
    case OPHOST_FIELD_BYTES:
        if (!ordered) {
            size_t vlen = strlen(value), lit = vlen;
            bool start = value[0] == '^', end = vlen > (size_t) start && value[vlen - 1] == '$';
            lit -= start + end;
            if (strcspn(value + start, ".[]()*+?{}|\\^$") == lit) {
                c->data = strndup(value + start, lit);
                if (!c->data)
                    return -ENOMEM;
                c->len = lit;
                c->v.u = (uint64_t) start | (uint64_t) end << 1;
                c->eval = eval_literal;
                break;
            }
            r = regcomp(&c->re, value, REG_EXTENDED | REG_NOSUB);
            if (r != 0) {
                char msg[128];
                regerror(r, &c->re, msg, sizeof(msg));
                return host->error(f->ctx, -EINVAL,
                                   "%s: bad regular expression '%s' for field '%s': %s",
                                   f->name, value, field, msg);
            }
            c->has_re = true;
            c->eval = eval_regex;
            break;
        }
        if (fd.type == OPHOST_FIELD_STRING) {
            c->len = strlen(value);
            c->data = strdup(value);
            if (!c->data)
                return -ENOMEM;
        } else {
            /* bytes: as hex digits, the way sinks print them */
            size_t n = strlen(value);
            if (n % 2)
                return bad_value(f, field, fd, value, "is not an even number of hex digits");
            c->data = malloc(n / 2 + 1);
            if (!c->data)
                return -ENOMEM;
            for (size_t i = 0; i < n; i += 2) {
                int hi = hexval(value[i]), lo = hexval(value[i + 1]);
                if (hi < 0 || lo < 0)
                    return bad_value(f, field, fd, value, "is not hex digits");
                c->data[i / 2] = (char) (hi << 4 | lo);
            }
            c->len = n / 2;
        }
        /* outcome by memcmp order: less, equal, greater */
        c->result[0] = c->op == OP_NE || c->op == OP_LT || c->op == OP_LE;
        c->result[1] = c->op == OP_EQ || c->op == OP_LE || c->op == OP_GE;
        c->result[2] = c->op == OP_NE || c->op == OP_GT || c->op == OP_GE;
        c->eval = eval_data;
        break;
    default:
        return host->error(f->ctx, -EINVAL, "%s: field '%s' has an unknown type %u", f->name,
                           field, fd.type);
    }
    return 0;
}

static char *trim(char *s) {
    char *end;
    while (isspace((unsigned char) *s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char) end[-1]))
        *--end = '\0';
    return s;
}

static int add_clause(struct filter *f, struct clause **ret) {
    struct clause *c = realloc(f->clauses, (f->n_clauses + 1) * sizeof(*c));
    if (!c)
        return -ENOMEM;
    f->clauses = c;
    c = &f->clauses[f->n_clauses++];
    memset(c, 0, sizeof(*c));
    *ret = c;
    return 0;
}

static int end_group(struct filter *f) {
    size_t *g = realloc(f->group_end, (f->n_groups + 1) * sizeof(*g));
    if (!g)
        return -ENOMEM;
    f->group_end = g;
    g[f->n_groups++] = f->n_clauses;
    return 0;
}

/* Parses and compiles expr (see the grammar at the top). buf is a writable
 * copy: names and values are cut out of it in place. */
static int compile(struct filter *f, char *buf, const char *expr) {
    char *p = buf;

    if (!*trim(buf))
        return host->error(f->ctx, -EINVAL, "%s: param 'expr' is empty", f->name);
    for (;;) {
        char *name, *value, *name_end, *out;
        struct clause *c;
        size_t oplen = 0;
        char sep;
        int r;

        while (isspace((unsigned char) *p))
            p++;
        name = p;
        p += strcspn(p, "=!<>~,|");
        if (*p == '\0' || *p == ',' || *p == '|') {
            *p = '\0';
            if (!*trim(name))
                return host->error(f->ctx, -EINVAL, "%s: empty clause in '%s'", f->name, expr);
            return host->error(f->ctx, -EINVAL,
                               "%s: clause '%s' has no operator (==, !=, <, <=, >, >=, ~, !~)",
                               f->name, trim(name));
        }
        name_end = p;
        r = add_clause(f, &c);
        if (r < 0)
            return r;
        for (int op = _OP_MAX - 1; op >= 0; op--) /* longest first: "<=" before "<" */
            if (strncmp(p, op_text[op], strlen(op_text[op])) == 0 &&
                strlen(op_text[op]) > oplen) {
                oplen = strlen(op_text[op]);
                c->op = (enum cmp_op) op;
            }
        if (oplen == 0) {
            char bad = *p;
            *name_end = '\0';
            return host->error(f->ctx, -EINVAL, "%s: '%c' after '%s' is not an operator%s",
                               f->name, bad, trim(name), bad == '=' ? " (did you mean '=='?)" : "");
        }
        p += oplen;
        *name_end = '\0';
        name = trim(name);
        if (!*name)
            return host->error(f->ctx, -EINVAL, "%s: no field name before '%s'", f->name,
                               op_text[c->op]);

        while (isspace((unsigned char) *p))
            p++;
        if (*p == '"') {
            value = out = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                *out++ = *p++;
            }
            if (*p != '"')
                return host->error(f->ctx, -EINVAL,
                                   "%s: unterminated quoted value for field '%s'", f->name, name);
            p++;
            while (isspace((unsigned char) *p))
                p++;
            if (*p && *p != ',' && *p != '|')
                return host->error(f->ctx, -EINVAL,
                                   "%s: unexpected '%s' after the quoted value for field '%s'",
                                   f->name, p, name);
            sep = *p;
            *out = '\0';
        } else {
            value = p;
            p += strcspn(p, ",|");
            sep = *p;
            *p = '\0';
            value = trim(value);
        }
        if (sep)
            p++;

        r = compile_clause(f, c, name, value);
        if (r < 0)
            return r;
        if (sep != ',' && (r = end_group(f)) < 0)
            return r;
        if (!sep)
            return 0;
    }
}

static void filter_free(struct filter *f) {
    for (size_t i = 0; i < f->n_clauses; i++) {
        free(f->clauses[i].data);
        if (f->clauses[i].has_re)
            regfree(&f->clauses[i].re);
    }
    free(f->clauses);
    free(f->group_end);
    free(f->cand);
    free(f->undecided);
    free(f->keep);
    free(f);
}

/* ------------------------------------------------------------- lifecycle */

static int instantiate(struct ophost_ctx *ctx, const char *name, void **ret) {
    struct filter *f = calloc(1, sizeof(*f));
    const char *expr;
    char *buf;
    int r;

    if (!f)
        return -ENOMEM;
    f->ctx = ctx;
    f->name = name;
    r = host->param_string(ctx, "expr", &expr);
    if (r < 0) {
        filter_free(f);
        return host->error(ctx, r, "%s: param 'expr': %s", name, strerror(-r));
    }
    r = host->datasource_find(ctx, NULL, &f->ds);
    if (r < 0) {
        filter_free(f);
        return host->error(ctx, r, "%s: the session has no data source", name);
    }
    buf = strdup(expr);
    if (!buf) {
        filter_free(f);
        return -ENOMEM;
    }
    r = compile(f, buf, expr);
    free(buf);
    if (r < 0) {
        filter_free(f);
        return r;
    }
    *ret = f;
    return 0;
}

static int filter_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    return instantiate(ctx, "filter", ret);
}

static int filter_late_instantiate(struct ophost_ctx *ctx, void *op_data, void **ret) {
    return instantiate(ctx, "filter-late", ret);
}

static int grow(struct filter *f, uint32_t cap) {
    uint32_t *cand = realloc(f->cand, cap * sizeof(uint32_t)), *undecided;
    bool *keep;
    if (!cand)
        return -ENOMEM;
    f->cand = cand;
    undecided = realloc(f->undecided, cap * sizeof(uint32_t));
    if (!undecided)
        return -ENOMEM;
    f->undecided = undecided;
    keep = realloc(f->keep, cap * sizeof(bool));
    if (!keep)
        return -ENOMEM;
    f->keep = keep;
    f->cap = cap;
    return 0;
}

/* The work arrays are sized for the batch capacity here, once. */
static int filter_start(struct ophost_ctx *ctx, void *data) {
    struct filter *f = data;
    struct ophost_batch *b = host->batch(ctx, f->ds);
    return grow(f, b && b->capacity ? b->capacity : 256);
}

/* Evaluates group g over the n candidates of idx (NULL: all live events)
 * into f->cand, each clause narrowing the list left by the previous one;
 * returns how many match, their positions ascending in f->cand. */
static uint32_t eval_group(const struct filter *f, size_t g, const struct ophost_batch *b,
                           const uint32_t *idx, uint32_t n) {
    const struct clause *c = f->clauses;
    for (size_t k = g ? f->group_end[g - 1] : 0; k < f->group_end[g] && n > 0; k++) {
        n = c[k].eval(&c[k], b, idx, n, f->cand);
        idx = f->cand;
    }
    return n;
}

static int filter_process(struct ophost_ctx *ctx, void *data, struct ophost_batch *b) {
    struct filter *f = data;
    uint32_t n = b->n, *sel = b->sel, m;

    if (b->ds != f->ds || n == 0)
        return 0;
    if (n > f->cap) {
        /* Not with the host's fixed batch capacity; kept for safety. */
        int r = grow(f, b->capacity > n ? b->capacity : n);
        if (r < 0)
            return host->error(ctx, r, "%s: out of memory", f->name);
    }

    if (f->n_groups == 1) {
        /* The matches are the kept events, ascending, and cand[j] >= j:
         * sel[] is compacted in place without overwriting an entry still
         * to be read. */
        m = eval_group(f, 0, b, NULL, n);
        for (uint32_t j = 0; j < m; j++)
            sel[j] = sel[f->cand[j]];
        b->n = m;
        return 0;
    }

    /* Several groups: each one sees only the events no earlier group
     * matched; what it matches is marked in keep[]. */
    {
        bool *keep = f->keep;
        uint32_t *undecided = f->undecided, n_undecided = n, out = 0;
        const uint32_t *list = NULL; /* of the undecided; NULL: all n live events */

        memset(keep, 0, n * sizeof(bool));
        for (size_t g = 0; g < f->n_groups && n_undecided > 0; g++) {
            const uint32_t *cand = f->cand;
            m = eval_group(f, g, b, list, n_undecided);
            if (m == 0)
                continue;
            for (uint32_t j = 0; j < m; j++)
                keep[cand[j]] = true;
            if (g + 1 < f->n_groups) {
                /* the events this group did not match, in order */
                uint32_t left = 0;
                if (!list) {
                    for (uint32_t i = 0; i < n; i++) {
                        undecided[left] = i;
                        left += !keep[i];
                    }
                } else {
                    for (uint32_t j = 0; j < n_undecided; j++) {
                        const uint32_t i = undecided[j];
                        undecided[left] = i;
                        left += !keep[i];
                    }
                }
                list = undecided;
                n_undecided = left;
            }
        }
        /* ophost_batch_keep(b, keep), without a branch per event */
        for (uint32_t i = 0; i < n; i++) {
            sel[out] = sel[i];
            out += keep[i];
        }
        b->n = out;
    }
    return 0;
}

static int filter_destroy(struct ophost_ctx *ctx, void *data) {
    filter_free(data);
    return 0;
}

static const struct ophost_param params[] = {
    { .key = "expr", .type = OPHOST_PARAM_STRING, .flags = OPHOST_PARAM_MANDATORY,
      .description = "FIELD OP VALUE clauses; ',' = and, '|' = or (binds looser); "
                     "OP: == != < <= > >= ~ !~ (POSIX extended regex); \"quoted\" values "
                     "may hold ',' and '|'" },
    { 0 }
};

static const struct ophost_operator filter_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "filter",
    .description = "Drops events not matching an expression over the gadget's fields "
                   "(runs before the enrichers)",
    .priority = OPHOST_PRIORITY_EARLY_FILTER,
    .instance_params = params,
    .instantiate = filter_instantiate,
    .start = filter_start,
    .process = filter_process,
    .destroy = filter_destroy,
};

static const struct ophost_operator filter_late_op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = "filter-late",
    .description = "Drops events not matching an expression over any field, enriched ones "
                   "included (runs after the enrichers)",
    .priority = OPHOST_PRIORITY_TRANSFORM,
    .instance_params = params,
    .instantiate = filter_late_instantiate,
    .start = filter_start,
    .process = filter_process,
    .destroy = filter_destroy,
};

static const struct ophost_operator *const operators[] = { &filter_op, &filter_late_op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = "filter",
    .version = "1.0",
    .description = "Filters events by field expressions",
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    host = h;
    return &plugin;
}
