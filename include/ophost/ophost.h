/*
 * ophost.h — the operator plugin ABI of ophostd, version 1.2.
 *
 * This header is the whole contract between ophostd (the host) and an
 * operator plugin (a shared object in the plugin directory). It is plain C99,
 * self-contained, and usable from C++.
 *
 * A plugin exports exactly one symbol, OPHOST_PLUGIN_ENTRY_SYMBOL, a function
 * that receives the host function table and returns a constant descriptor of
 * the plugin and the operators it provides; OPHOST_PLUGIN defines both. A
 * minimal enricher (the complete, compilable version is
 * plugins/example/example.c in the ophost sources, beside a gadget, a sink
 * and a C++ enricher):
 *
 *     static const struct ophost_host *host;
 *     struct upper { struct ophost_datasource *ds; ophost_field comm, comm_upper; };
 *
 *     static int upper_instantiate(struct ophost_ctx *ctx, void *op_data,
 *                                  void **ret_data) {
 *         struct upper *u = calloc(1, sizeof(*u));
 *         ... host->datasource_find(ctx, NULL, &u->ds);
 *         ... ophost_field_require(host, ctx, u->ds, "comm", OPHOST_FIELD_STRING,
 *                                  &u->comm);
 *         ... host->field_add(ctx, u->ds, "comm_upper", OPHOST_FIELD_STRING,
 *                             &u->comm_upper);
 *         *ret_data = u;
 *         return 0;
 *     }
 *     static int upper_destroy(struct ophost_ctx *ctx, void *data) {
 *         free(data);
 *         return 0;
 *     }
 *     static int upper_process(struct ophost_ctx *ctx, void *data,
 *                              struct ophost_batch *b) {
 *         for (uint32_t i = 0; i < b->n; i++) {
 *             struct ophost_event *e = ophost_batch_event(b, i);
 *             ... ophost_event_get_string(b, e, u->comm, &len), upper-case
 *             ... it into a buffer, ophost_event_set_bytes(b, e, u->comm_upper, ...)
 *         }
 *         return 0;
 *     }
 *
 *     static const struct ophost_operator upper = {
 *         .struct_size = sizeof(struct ophost_operator),
 *         .name = "upper", .description = "Adds comm in upper case",
 *         .instantiate = upper_instantiate, .destroy = upper_destroy,
 *         .process = upper_process,
 *     };
 *     OPHOST_PLUGIN(host, "upper", "1.0", "Upper-case fields", &upper);
 *
 * (Designated initializers in the order of the struct's members, as C++20
 * requires: .destroy comes before .process.)
 *
 * Build it with the installed pkg-config file (ophost.pc), and install it
 * into the plugin directory under a temporary name, then rename it:
 *
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags ophost) \
 *        -o upper.so upper.c
 *     ophostd --check-plugin ./upper.so
 *     dir=$(pkg-config --variable=plugindir ophost)
 *     install -m 0644 upper.so "$dir/.upper.so.tmp" && mv "$dir/.upper.so.tmp" "$dir/upper.so"
 *
 * Processes. ophostd's supervisor never loads a plugin: plugin code runs in
 * processes of its own, each a fresh `ophostd --worker` that loads the
 * plugins it needs from a sealed snapshot of their files (overwriting,
 * truncating or deleting the file never reaches loaded code):
 *
 *   - the scanner: loads each new or changed plugin file, calls its entry
 *     function, reads the descriptor, and exits. No other callback runs
 *     there. A plugin that crashes or hangs here is refused.
 *   - one worker per session: loads the plugins of the session's operators,
 *     runs init of each operator it uses, the session's callbacks below,
 *     then close, and exits. A crash, a hang past a deadline, or exit()
 *     in any callback ends this process only: its session fails, naming
 *     the operator and the callback, and other sessions go on.
 *   - dry runs (`ophostd --check`, and the check before a reload swaps in a
 *     new configuration): a worker that runs init, can_operate_on,
 *     instantiate, destroy and close for one session, and exits.
 *
 * So statics, op_data and whatever init sets up exist once per process:
 * they are never shared between sessions, and nothing a plugin keeps in
 * memory survives its session (use files for that).
 *
 * Lifecycle. Per process, once per operator: init (with the operator's
 * global params) before the session's first callback ... close after its
 * last. Per session, each "do" is undone if and only if it succeeded, in
 * reverse operator order:
 *
 *     instantiate  -> destroy      (read params, build the schema: add and find fields)
 *     pre_start    -> post_stop    (acquire resources: files, sockets, BPF objects)
 *     start        -> stop         (begin producing / consuming: fds and timers)
 *
 * The session's order is: the gadget first, then dependencies before their
 * dependents, then lower priority first, then name. Between start and stop
 * the gadget emits batches of events and every other operator's process()
 * is called with each batch, in that order. All per-session callbacks run on
 * that session's own thread, one at a time; an operator's instance state
 * therefore needs no locks, and a callback that blocks stalls the whole
 * session. init, close and can_operate_on run on the process's main
 * thread. A dry run calls instantiate and then destroy (never pre_start)
 * to validate the schema: instantiate must not acquire resources or have
 * effects outside its instance data.
 *
 * Deadlines. Every callback has one (per session in its pipeline file:
 * process-deadline, 10 s by default, for process() and loop callbacks;
 * callback-deadline, 30 s, for the others; 5 s for the entry function in
 * the scanner). A process still in the callback at its deadline is
 * killed and its session fails with "operator 'x' stuck in process() for
 * 10s". A plugin that crashes, hangs or exits three times within 10
 * minutes is quarantined: its sessions do not start until its file
 * changes or `ophostctl unquarantine` lifts it.
 *
 * Errors: callbacks return 0 on success or a negative errno. To explain a
 * failure, call host->error(ctx, -EINVAL, "why") and return its result; the
 * host copies the text. A failing do callback fails the session (the
 * message names the operator and the phase); a failing undo callback is
 * logged and the other undos still run. Strings a plugin hands the host
 * (names, descriptions, params) stay owned by the plugin and must stay
 * valid while the plugin is loaded; the host never frees plugin memory and
 * the plugin never frees host memory.
 *
 * Threads: host functions other than log() must be called on the thread
 * running the callback that received ctx (for an instance context: the
 * session thread), from a callback or from a loop callback of that session.
 * A plugin may start its own threads in pre_start (and join them by
 * post_stop), but those may only call host->log; to hand events to the
 * session, wake the session thread through a pipe or eventfd watched with
 * host->io_add.
 *
 * Compatibility: the host refuses a plugin whose abi_major differs from its
 * own or whose abi_minor is newer. Structures are only ever extended at their
 * end; the host reads only the fields that the plugin's abi_minor defines.
 * A plugin may check host->abi_minor before using host functions added later.
 *
 * History: 1.0 the first release. 1.1 appends host->dropped (events a sink
 * accepted but could not write); a 1.0 plugin loads unchanged. 1.2 appends
 * host->field_set_meta (descriptions and display hints of fields) and
 * host->metrics_publish (Prometheus metrics, served by the daemon on
 * /metrics); 1.0 and 1.1 plugins load unchanged. The inline helpers
 * (OPHOST_PLUGIN, ophost_field_require, ophost_timestamp_now,
 * ophost_usec_from_nsec, ophost_field_type_name) live in this header only
 * and call no host function beyond 1.0.
 */
#ifndef OPHOST_OPHOST_H
#define OPHOST_OPHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OPHOST_ABI_MAJOR 1
#define OPHOST_ABI_MINOR 2

/* The one symbol a plugin exports; its type is ophost_plugin_entry_fn. */
#define OPHOST_PLUGIN_ENTRY_SYMBOL "ophost_plugin_entry"

/* A cast that C++ compilers accept without -Wold-style-cast warnings (used
 * by the inline helpers below; not part of the ABI). */
#ifdef __cplusplus
#define OPHOST_CAST_(type, expr) (static_cast<type>(expr))
#else
#define OPHOST_CAST_(type, expr) ((type) (expr))
#endif

#if defined(__GNUC__)
#define OPHOST_EXPORT __attribute__((visibility("default")))
#define OPHOST_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define OPHOST_EXPORT
#define OPHOST_PRINTF(fmt, args)
#endif

/* Log priorities: the syslog values. */
#define OPHOST_LOG_ERR 3
#define OPHOST_LOG_WARNING 4
#define OPHOST_LOG_NOTICE 5
#define OPHOST_LOG_INFO 6
#define OPHOST_LOG_DEBUG 7

/* An instantiate callback returns this (positive) value to opt out of a
 * session: the operator then takes no further part in it. */
#define OPHOST_OPT_OUT 1

/* Opaque handles owned by the host. An ophost_ctx is either an operator's
 * global context (init, close, can_operate_on), valid from init until close
 * returns, or one operator instance in one session (every other callback),
 * valid from instantiate until destroy returns; a plugin may keep the
 * pointer for that long. An ophost_datasource is valid for the session that
 * created it; an ophost_source until source_free or the instance's stop. */
struct ophost_ctx;
struct ophost_datasource;
struct ophost_source;

/* ---------------------------------------------------------------- params */

enum ophost_param_type {
    OPHOST_PARAM_STRING = 1,
    OPHOST_PARAM_BOOL = 2,     /* true/false, yes/no, on/off, 1/0 */
    OPHOST_PARAM_INT = 3,      /* signed 64-bit decimal */
    OPHOST_PARAM_UINT = 4,     /* unsigned 64-bit decimal */
    OPHOST_PARAM_DURATION = 5  /* "250ms", "2s", "1m30s", "1h"; a bare number is seconds */
};

#define OPHOST_PARAM_MANDATORY (1u << 0) /* must be given; default_value is ignored */
#define OPHOST_PARAM_HAS_MIN (1u << 1)   /* min applies (int, uint, duration in ns) */
#define OPHOST_PARAM_HAS_MAX (1u << 2)   /* max applies (int, uint, duration in ns) */

/* One parameter of an operator. Arrays of these end with an entry whose key
 * is NULL. Values always arrive as text (from the daemon config for global
 * params, from the pipeline file for instance params) and are checked
 * against this descriptor before any callback sees them: a bad value fails
 * the session plan with a message naming the file, line, param and reason,
 * and the callbacks never run. The loader refuses the plugin when a
 * descriptor is invalid (bad key, unknown type, a default that does not
 * parse or breaks min/max/allowed). */
struct ophost_param {
    const char *key;                 /* [a-z0-9_-]+, unique among the operator's params */
    const char *description;         /* one line for --list-operators; may be NULL */
    uint32_t type;                   /* enum ophost_param_type */
    uint32_t flags;                  /* OPHOST_PARAM_* */
    const char *default_value;       /* text; NULL = no default */
    const char *const *allowed;      /* NULL-terminated allowed values (compared as
                                        text); NULL = any */
    const char *const *aliases;      /* NULL-terminated other keys accepted; NULL = none */
    int64_t min;                     /* with OPHOST_PARAM_HAS_MIN (uint: cast;
                                        duration: nanoseconds), inclusive */
    int64_t max;                     /* with OPHOST_PARAM_HAS_MAX, same units, inclusive */
};

/* ------------------------------------------------------------ event data */

/* The type of a field, and its size in a record: 1, 2, 4, 8 bytes for the
 * integers, 1 for bool, 8 for a timestamp, 8 (struct ophost_strref) for
 * string and bytes. Fields are naturally aligned in records. */
enum ophost_field_type {
    OPHOST_FIELD_U8 = 1,
    OPHOST_FIELD_U16 = 2,
    OPHOST_FIELD_U32 = 3,
    OPHOST_FIELD_U64 = 4,
    OPHOST_FIELD_S32 = 5,
    OPHOST_FIELD_S64 = 6,
    OPHOST_FIELD_BOOL = 7,       /* stored as one byte, 0 or 1 */
    OPHOST_FIELD_TIMESTAMP = 8,  /* u64 nanoseconds since the Unix epoch */
    OPHOST_FIELD_STRING = 9,     /* text in the batch's string area */
    OPHOST_FIELD_BYTES = 10      /* binary data in the batch's string area */
};

/* A resolved field: where it lives in an event record. Handles are resolved
 * once (instantiate or pre_start) and then used by value on the hot path;
 * they stay valid for the whole session, and only for it (keep them in the
 * instance data, never in op_data: another session has another layout).
 * Check type after field_find: the accessors do not. */
typedef struct ophost_field {
    uint32_t offset;   /* byte offset in the record */
    uint16_t type;     /* enum ophost_field_type */
    uint16_t index;    /* position in the data source's schema */
} ophost_field;

/* How a string or bytes field is stored in a record. off == 0 means "not set"
 * (the host keeps byte 0 of the string area unused); a set empty string has
 * off > 0 and len == 0. The bytes are followed by a NUL in the string area. */
struct ophost_strref {
    uint32_t off;
    uint32_t len;
};

/* An event is a fixed-layout record of its data source; a pointer to one is
 * valid only during the callback that got it (the batch is reused). */
struct ophost_event;

/*
 * A batch of events of one data source. The host owns it and hands it to
 * each operator's process() in turn; it is valid only during that call (or,
 * for the gadget, from host->batch to host->emit): never keep the pointer.
 * Records are never moved: the live events are the n record indices in
 * sel[], so dropping events means compacting sel[] (see ophost_batch_keep).
 * process() may set fields of live events, drop events (lower n, compact
 * sel) and reorder sel[0..n); it must not raise n (the session then fails
 * with EPROTO). Only the gadget appends. All members are read-only for
 * plugins except through the inline helpers below and as just described.
 */
struct ophost_batch {
    uint32_t struct_size;
    uint32_t n;                 /* live events: sel[0..n) */
    uint32_t *sel;              /* record indices of the live events, in order */
    uint8_t *records;           /* capacity * record_size bytes */
    uint32_t record_size;
    uint32_t n_records;         /* records appended since the batch was reset */
    uint32_t capacity;          /* records the batch can hold */
    uint32_t strings_len;       /* bytes used in strings (>= 1) */
    char *strings;              /* variable-length area for string/bytes fields */
    uint32_t strings_cap;
    const struct ophost_datasource *ds;
    /* Grows strings so that at least `need` more bytes fit; 0 or -ENOMEM.
     * Called by ophost_event_set_bytes; may move strings (offsets stay valid). */
    int (*reserve_strings)(struct ophost_batch *b, size_t need);
};

/* The i-th live event of a batch (0 <= i < b->n). */
static inline struct ophost_event *ophost_batch_event(const struct ophost_batch *b, uint32_t i) {
    return OPHOST_CAST_(struct ophost_event *,
                        OPHOST_CAST_(void *, b->records + OPHOST_CAST_(size_t, b->sel[i]) *
                                                              b->record_size));
}

/* Appends a zeroed event and returns it (gadgets only, between host->batch
 * and host->emit); NULL when the batch is full: then emit it (which empties
 * it) and append again. String and bytes fields start unset; integer, bool
 * and timestamp fields have no "unset" state: they read 0 (false) until
 * someone sets them, and 0 is also what a reader sees when the operator
 * meant to set them runs later or not at all. Add a bool field when
 * "absent" must be told apart from 0. */
static inline struct ophost_event *ophost_batch_append(struct ophost_batch *b) {
    uint8_t *rec;
    if (b->n_records >= b->capacity)
        return NULL;
    rec = b->records + OPHOST_CAST_(size_t, b->n_records) * b->record_size;
    memset(rec, 0, b->record_size);
    b->sel[b->n++] = b->n_records++;
    return OPHOST_CAST_(struct ophost_event *, OPHOST_CAST_(void *, rec));
}

/* Filters: call with keep[i] for every live event i (keep has at least b->n
 * entries, owned by the caller) to drop the others without copying any
 * record; the order of the kept events is unchanged. */
static inline void ophost_batch_keep(struct ophost_batch *b, const bool *keep) {
    uint32_t i, out = 0;
    for (i = 0; i < b->n; i++)
        if (keep[i])
            b->sel[out++] = b->sel[i];
    b->n = out;
}

#define OPHOST_FIELD_PTR_(e, f) \
    (OPHOST_CAST_(uint8_t *, OPHOST_CAST_(void *, e)) + (f).offset)
#define OPHOST_FIELD_CPTR_(e, f) \
    (OPHOST_CAST_(const uint8_t *, OPHOST_CAST_(const void *, e)) + (f).offset)

#define OPHOST_ACCESSORS_(suffix, ctype)                                                 \
    static inline ctype ophost_event_get_##suffix(const struct ophost_event *e,         \
                                                  ophost_field f) {                     \
        ctype v;                                                                        \
        memcpy(&v, OPHOST_FIELD_CPTR_(e, f), sizeof(v));                                \
        return v;                                                                       \
    }                                                                                   \
    static inline void ophost_event_set_##suffix(struct ophost_event *e, ophost_field f, \
                                                 ctype v) {                             \
        memcpy(OPHOST_FIELD_PTR_(e, f), &v, sizeof(v));                                 \
    }

/* Typed accessors by offset; the caller uses the accessor of the field's type
 * (timestamps use u64, bool fields use bool); nothing is checked, a wrong
 * accessor reads or overwrites neighbouring bytes of the record. */
OPHOST_ACCESSORS_(u8, uint8_t)
OPHOST_ACCESSORS_(u16, uint16_t)
OPHOST_ACCESSORS_(u32, uint32_t)
OPHOST_ACCESSORS_(u64, uint64_t)
OPHOST_ACCESSORS_(s32, int32_t)
OPHOST_ACCESSORS_(s64, int64_t)

static inline bool ophost_event_get_bool(const struct ophost_event *e, ophost_field f) {
    return *OPHOST_FIELD_CPTR_(e, f) != 0;
}
static inline void ophost_event_set_bool(struct ophost_event *e, ophost_field f, bool v) {
    *OPHOST_FIELD_PTR_(e, f) = v ? 1 : 0;
}

/* Sets a string or bytes field of an event of batch b to a copy of
 * data[0..len) (data may not point into b->strings: copy it first). Returns
 * 0, or -ENOMEM and leaves the field as it was. It may move b->strings, so
 * every pointer from ophost_event_get_string on this batch is invalid
 * afterwards. Setting a field again appends a new copy; the old bytes stay
 * unused until the batch is reset. */
static inline int ophost_event_set_bytes(struct ophost_batch *b, struct ophost_event *e,
                                         ophost_field f, const void *data, size_t len) {
    struct ophost_strref r;
    if (len > UINT32_MAX - 1 - b->strings_len)
        return -12; /* ENOMEM */
    if (b->strings_len + len + 1 > b->strings_cap) {
        int rc = b->reserve_strings(b, len + 1);
        if (rc < 0)
            return rc;
    }
    r.off = b->strings_len;
    r.len = OPHOST_CAST_(uint32_t, len);
    if (len)
        memcpy(b->strings + r.off, data, len);
    b->strings[r.off + len] = '\0';
    b->strings_len += OPHOST_CAST_(uint32_t, len) + 1;
    memcpy(OPHOST_FIELD_PTR_(e, f), &r, sizeof(r));
    return 0;
}

static inline int ophost_event_set_string(struct ophost_batch *b, struct ophost_event *e,
                                          ophost_field f, const char *s) {
    return ophost_event_set_bytes(b, e, f, s, strlen(s));
}

/* Returns the NUL-terminated text of a string (or bytes) field, NULL when not
 * set, and stores its length in *ret_len if ret_len is not NULL (not written
 * when NULL is returned). The pointer is valid until the batch is handed on
 * or the next ophost_event_set_bytes/set_string on this batch, whichever
 * comes first. */
static inline const char *ophost_event_get_string(const struct ophost_batch *b,
                                                  const struct ophost_event *e,
                                                  ophost_field f, size_t *ret_len) {
    struct ophost_strref r;
    memcpy(&r, OPHOST_FIELD_CPTR_(e, f), sizeof(r));
    if (r.off == 0)
        return NULL;
    if (ret_len)
        *ret_len = r.len;
    return b->strings + r.off;
}

/* ------------------------------------------------------------- the host */

/* Loop callbacks run on the session thread, between the instance's start
 * and stop, never concurrently with another callback of the session. ctx is
 * the instance that added the source; revents are EPOLLIN, EPOLLOUT,
 * EPOLLERR, EPOLLHUP (same values as POLLIN...). A callback may emit, add
 * sources and free any source, its own included (then it must not touch
 * it again). Returning 0 keeps the source; returning a negative errno fails
 * the session (with the reason given through host->error, if any). */
typedef int (*ophost_io_fn)(struct ophost_ctx *ctx, int fd, uint32_t revents, void *userdata);
typedef int (*ophost_timer_fn)(struct ophost_ctx *ctx, void *userdata);

/*
 * Services of the host, passed to the plugin's entry function; the table is
 * constant and stays valid while the plugin is loaded (keep the pointer in a
 * static). Every function validates its arguments and returns -EINVAL (or
 * NULL, 0) on misuse, including an operator context where an instance
 * context is needed, instead of crashing. None of them blocks, except emit,
 * which runs the batch through the session's operators. Members are only
 * ever appended: before using one added after 1.0, check host->abi_minor.
 */
struct ophost_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Logs a line prefixed with the session and operator of ctx (ctx may be
     * NULL: no prefix). priority is OPHOST_LOG_*; more urgent values are
     * logged as OPHOST_LOG_ERR. Any thread; never blocks for long. */
    void (*log)(struct ophost_ctx *ctx, int priority, const char *fmt, ...) OPHOST_PRINTF(3, 4);
    /* Records why the current callback fails (the host copies the text; a
     * later call in the same callback replaces it) and returns err as a
     * negative errno (a positive err is negated, 0 becomes -EIO):
     * `return host->error(ctx, -EINVAL, ...);`. Callback's thread. */
    int (*error)(struct ophost_ctx *ctx, int err, const char *fmt, ...) OPHOST_PRINTF(3, 4);

    /* Param values: the global params for an operator context, the instance
     * params for an instance context. Values are validated; a default is
     * returned when the param was not given. -ENOENT: no such key;
     * -EINVAL: the key has another type; -ENODATA: no value and no default
     * (never for a MANDATORY param: a session lacking it does not start).
     * Global keys are not visible through an instance context and vice
     * versa. *ret is written only on success. Strings stay valid as long
     * as ctx. Callback's thread, any callback. */
    int (*param_string)(struct ophost_ctx *ctx, const char *key, const char **ret);
    int (*param_bool)(struct ophost_ctx *ctx, const char *key, bool *ret);
    int (*param_int)(struct ophost_ctx *ctx, const char *key, int64_t *ret);
    int (*param_uint)(struct ophost_ctx *ctx, const char *key, uint64_t *ret);
    int (*param_duration)(struct ophost_ctx *ctx, const char *key, uint64_t *ret_nsec);

    /* The session's name and gadget (instance contexts), NULL otherwise.
     * Valid as long as ctx. */
    const char *(*session_name)(struct ophost_ctx *ctx);
    const char *(*gadget_name)(struct ophost_ctx *ctx);

    /* A per-session variable store shared by the session's operators (e.g. a
     * gadget publishes a handle that enrichers use). The host copies name
     * and does not own or free the values; whoever sets a value clears it
     * (var_set(ctx, name, NULL)) in the undo that matches where it was set.
     * var_set: 0, -EINVAL, -ENOMEM. var_get returns NULL when unset. Instance
     * contexts, session thread, from instantiate to destroy. */
    int (*var_set)(struct ophost_ctx *ctx, const char *name, void *value);
    void *(*var_get)(struct ophost_ctx *ctx, const char *name);

    /* Schema, during instantiate and pre_start only (-EBUSY later).
     * Names of data sources and fields: 1 to 64 of [A-Za-z0-9_.-].
     * datasource_add: gadgets declare their data sources (-EEXIST if taken).
     * datasource_find: NULL name = the session's first data source; -ENOENT.
     * field_add: -EEXIST if the name exists. field_find: -ENOENT; it also
     * works later. It finds the fields of the operators that run before the
     * caller in the session's order (and the caller's own): an operator
     * sees an event after those and before the others, so a field added by
     * an operator that runs later would always be unset for it. Such a
     * field is -ENOENT in every phase, like one that no operator adds:
     * declare a dependency on the operator that adds a field you need.
     * When the callback then fails, the host adds to the failure's message
     * which operator adds the field and what to do ("field 'user' is added
     * by 'uidgid', which runs after 'cmdhash': add 'uidgid' to cmdhash's
     * dependencies"), or that no operator adds it, with the closest name;
     * when it goes on without the field, the host logs that as a warning.
     * *ret is written only on success and stays valid for the session.
     * Instance contexts, session thread. */
    int (*datasource_add)(struct ophost_ctx *ctx, const char *name,
                          struct ophost_datasource **ret);
    int (*datasource_find)(struct ophost_ctx *ctx, const char *name,
                           struct ophost_datasource **ret);
    int (*field_add)(struct ophost_ctx *ctx, struct ophost_datasource *ds, const char *name,
                     uint32_t type, ophost_field *ret);
    int (*field_find)(struct ophost_ctx *ctx, struct ophost_datasource *ds, const char *name,
                      ophost_field *ret);
    /* Schema introspection, for sinks and formatters. The schema is complete
     * from start on (later operators may still add fields in instantiate and
     * pre_start). field_at: -ERANGE past the last field; the name stays
     * valid for the session. datasource_name: NULL on misuse. */
    size_t (*field_count)(struct ophost_ctx *ctx, struct ophost_datasource *ds);
    int (*field_at)(struct ophost_ctx *ctx, struct ophost_datasource *ds, size_t index,
                    const char **ret_name, ophost_field *ret);
    const char *(*datasource_name)(struct ophost_ctx *ctx, struct ophost_datasource *ds);

    /* The session loop (session thread; from start on, -EBUSY before).
     * io_add watches fd for the EPOLLIN/EPOLLOUT events given (level
     * triggered); the fd stays the plugin's: close it after freeing the
     * source. timer_add fires first after first_usec and then every
     * interval_usec (0 = once), CLOCK_MONOTONIC, without drift. Both are
     * MICROseconds, while duration params are NANOseconds
     * (ophost_usec_from_nsec converts, rounding up so that a short period
     * never becomes 0 = once). first_usec 0 is allowed: the timer fires as
     * soon as the loop runs, i.e. after every operator's start returned,
     * which is where a gadget emits its first batch. Both return
     * 0 or a negative errno (-EINVAL, -EBUSY, -ENOMEM, ...); ret may be NULL. The returned source is
     * freed with source_free (NULL is a no-op), at the latest in the
     * instance's stop: the host frees what is left right after stop
     * returns, so a source pointer must not be used after that. */
    int (*io_add)(struct ophost_ctx *ctx, int fd, uint32_t events, ophost_io_fn cb,
                  void *userdata, struct ophost_source **ret);
    int (*timer_add)(struct ophost_ctx *ctx, uint64_t first_usec, uint64_t interval_usec,
                     ophost_timer_fn cb, void *userdata, struct ophost_source **ret);
    void (*source_free)(struct ophost_source *source);

    /* Data (gadgets, session thread, while running). batch returns the batch
     * to fill for ds (the same one each time, empty after each emit; NULL
     * before start or on misuse). emit runs the batch synchronously through
     * the process() of every later operator of the session and resets it;
     * call it from a loop callback (io/timer), not from start (later
     * operators have not started yet). It returns 0, or a negative errno
     * when the session is failing or stopping (-ECANCELED, -ESHUTDOWN): stop
     * emitting then; the session's failure is already recorded. lost counts
     * events the gadget could not deliver (ring buffer full, ENOBUFS); they
     * are shown in the session's stats. done ends the session after the
     * current callback returns (the loop exits, then stop, post_stop and
     * destroy run): error 0 = completed, else failed with that errno; only
     * the first call counts. Any operator may call done (e.g. a limiter). */
    struct ophost_batch *(*batch)(struct ophost_ctx *ctx, struct ophost_datasource *ds);
    int (*emit)(struct ophost_ctx *ctx, struct ophost_batch *batch);
    void (*lost)(struct ophost_ctx *ctx, uint64_t n);
    void (*done)(struct ophost_ctx *ctx, int error);

    /* Schema, during instantiate and pre_start only (-EBUSY later): how many
     * events one batch of ds holds (default 256, at most 1048576; -ERANGE).
     * Gadgets whose batch is a unit, such as a snapshot that sorters and
     * limiters must see whole, raise it. Returns 0 or a negative errno.
     * Instance contexts, session thread; meant for the gadget that added ds. */
    int (*datasource_set_capacity)(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                   uint32_t capacity);
    /* The field of ds whose name is closest to name (a likely typo), or NULL:
     * for "unknown field 'usr' (did you mean 'uid'?)" messages. Only fields
     * field_find would return count; NULL when name itself exists (added by
     * an operator that runs later: no typo). The name stays valid for the
     * session. Instance contexts, session thread; it allocates: not for
     * process(). */
    const char *(*field_closest)(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                                 const char *name);

    /* ---- ABI 1.1 (check host->abi_minor >= 1 before use) ---- */

    /* Counts n events that this operator accepted but could not deliver: a
     * sink's write that failed (full disk, a deleted file, a closed peer)
     * for events it already let pass. They show as the operator's and the
     * session's "dropped" in `ophostctl stats` and `list`, next to
     * "filtered" (events an operator removed from a batch on purpose) and
     * "lost" (events the gadget could not deliver, host->lost). Instance
     * contexts, session thread, from instantiate to destroy (a sink that
     * flushes in stop or post_stop may still count). */
    void (*dropped)(struct ophost_ctx *ctx, uint64_t n);

    /* ---- ABI 1.2 (check host->abi_minor >= 2 before use) ---- */

    /* Describes a field of ds for people: `ophostctl run GADGET --help`
     * lists it, and clients render events with it (JSON output always
     * carries the raw values). key and value are copied. Keys:
     *   "description"  one line of text: what the field holds
     *   "unit"         how a client shows the number: "bytes" (as KiB,
     *                  MiB, ...), "ns", "us", "ms", "s" (as a duration),
     *                  "percent", "centipercent" (hundredths of a percent,
     *                  shown as a percent)
     *   "width"        columns a table gives the field, "1".."1024"
     *   "hidden"       "true": tables leave the field out unless asked
     *                  for it ("false", the default, shows it)
     * Returns 0, -EINVAL (a bad value, a field that is not ds's, an
     * operator context), -EOPNOTSUPP (a key this host does not know: a
     * plugin may ignore it), -EBUSY (after pre_start) or -ENOMEM.
     * Instance contexts, session thread, in instantiate and pre_start,
     * for any field of ds (typically the ones the operator added).
     * Clients show a data source whose gadget called
     * datasource_set_capacity round by round: each batch is one round. */
    int (*field_set_meta)(struct ophost_ctx *ctx, struct ophost_datasource *ds,
                          ophost_field field, const char *key, const char *value);

    /* Publishes this instance's metrics: text[0..len) is the complete
     * Prometheus text exposition (format 0.0.4) of the instance's metric
     * families, and replaces whatever it published before. The daemon
     * serves the latest text of every instance of every configured session
     * on its /metrics endpoint (daemon config metrics-listen), adding the
     * label session="NAME" to every sample; a session that ended keeps its
     * last text there until it starts again or is removed. The host copies
     * text into a sealed memory file handed to the daemon, so the call
     * costs one copy and never waits for a scrape: publish from a timer
     * (about once a second) and once more in stop, not per batch.
     *
     * The text must be what Prometheus accepts, and the daemon checks it
     * when it serves it (a text it refuses is left out, with the reason in
     * the log): lines ending in '\n'; each family's "# HELP NAME TEXT" and
     * "# TYPE NAME counter|gauge|histogram|summary|untyped" before its
     * samples, its lines together, each family once; samples
     * `NAME{LABEL="VALUE",...} VALUE` without timestamps, each series
     * once; valid UTF-8; no label named "session" or starting with "__";
     * family names starting with "ophost_" are the daemon's own, except
     * "ophost_metrics_*" (the metrics operator's). At most 64 MiB.
     *
     * Returns 0 (also when nothing collects metrics, e.g. in a dry run),
     * -EINVAL on misuse, -EBUSY outside start..stop, -E2BIG past 64 MiB,
     * or a negative errno from creating the memory file (-ENOMEM, -EMFILE).
     * Instance contexts, session thread, from start to stop (stop
     * included). */
    int (*metrics_publish)(struct ophost_ctx *ctx, const char *text, size_t len);
};

/* ------------------------------------------------------------ operators */

#define OPHOST_OPERATOR_GADGET (1u << 0) /* a source: declares data sources, emits */

/* Conventional priorities (lower runs earlier among operators free to go;
 * dependencies always come first). The default, 0, is an enricher's. */
#define OPHOST_PRIORITY_EARLY_FILTER (-1000) /* filters on gadget fields */
#define OPHOST_PRIORITY_ENRICHER 0
#define OPHOST_PRIORITY_TRANSFORM 1000 /* filters, sorters, limiters, formatters */
#define OPHOST_PRIORITY_SINK 10000

/*
 * One operator. Every callback is optional (a missing one counts as
 * succeeding). `data` is what instantiate stored in *ret_data (NULL if it
 * stored nothing); `op_data` what init stored in *ret_op_data. Every
 * callback returns 0 or a negative errno, explained with host->error.
 */
struct ophost_operator {
    uint32_t struct_size;                  /* sizeof(struct ophost_operator) */
    const char *name;                      /* [a-z0-9_-]+, unique in the daemon */
    const char *description;               /* one line, for --list-operators */
    uint32_t flags;                        /* OPHOST_OPERATOR_* */
    int32_t priority;                      /* OPHOST_PRIORITY_* or between */
    /* NULL-terminated operator names; NULL = none. A session that uses this
     * operator also runs these, before it (it can field_find their fields
     * in instantiate); a missing one keeps the session from starting. */
    const char *const *dependencies;
    const struct ophost_param *global_params;   /* key == NULL terminated; NULL = none */
    const struct ophost_param *instance_params; /* key == NULL terminated; NULL = none */

    /* Main thread of the process (see Processes and Lifecycle), once per
     * process, before the session's first callback, with the global params
     * in ctx. State of the operator goes in *ret_op_data, which the
     * instance reads on the session thread; close runs only after the
     * session ended. A failure fails the session (or the dry run) with the
     * message. */
    int (*init)(struct ophost_ctx *ctx, void **ret_op_data);
    /* Main thread, if init succeeded, after the session's last callback
     * (before the process exits). Frees op_data. */
    int (*close)(struct ophost_ctx *ctx, void *op_data);
    /* Main thread, after init, before the session's first callback (and in
     * dry runs): whether the operator applies to sessions of this gadget;
     * false fails the session naming both. Not asked of the gadget itself.
     * NULL = all gadgets. */
    bool (*can_operate_on)(struct ophost_ctx *ctx, void *op_data, const char *gadget);

    /* Session thread (or, for instantiate and destroy, a dry run on the
     * main thread; see Lifecycle). instantiate reads the instance
     * params, allocates the instance data into *ret_data and builds the
     * schema; it may return OPHOST_OPT_OUT (then it must have freed what it
     * allocated: no other callback of this instance runs; a gadget cannot
     * opt out). */
    int (*instantiate)(struct ophost_ctx *ctx, void *op_data, void **ret_data);
    /* Acquires resources (open files, load programs); the schema is still
     * open: fields of every operator can be found, and added. */
    int (*pre_start)(struct ophost_ctx *ctx, void *data);
    /* The schema is frozen (field_at lists every field); adds fds and
     * timers. The gadget starts first, so it must not emit from start. */
    int (*start)(struct ophost_ctx *ctx, void *data);
    /* Undoes start: frees the sources (the host frees any left right after
     * stop returns). No process() call and no loop callback follows, for
     * any operator: a sink that aggregates writes its results here (also
     * after done() or a failure of a later callback; the gadget's stop runs
     * after it, but the gadget cannot emit any more). */
    int (*stop)(struct ophost_ctx *ctx, void *data);
    /* Undoes pre_start: releases resources (closes what pre_start opened,
     * e.g. the file a sink wrote to in stop). */
    int (*post_stop)(struct ophost_ctx *ctx, void *data);
    /* Undoes instantiate: frees data. ctx and field handles die after it. */
    int (*destroy)(struct ophost_ctx *ctx, void *data);
    /* Called with every batch of every data source of the session (check
     * batch->ds) between start and stop, on the session thread, in the
     * session's order; never for the session's gadget, and never with an
     * empty batch. See struct ophost_batch for what it may change. Must not
     * block or allocate per event: a sink that keeps state across batches
     * (counts per key, say) may grow it for keys it has not seen before,
     * with amortised growth (double an array or hash table), never with a
     * malloc per event. A negative return fails the session; the batch is
     * not handed on. */
    int (*process)(struct ophost_ctx *ctx, void *data, struct ophost_batch *batch);
};

/* What the entry function returns. Operator names are unique across all
 * loaded plugins: a plugin providing a name another plugin already
 * provides is refused as a whole. */
struct ophost_plugin {
    uint16_t abi_major;                    /* OPHOST_ABI_MAJOR */
    uint16_t abi_minor;                    /* OPHOST_ABI_MINOR */
    uint32_t struct_size;                  /* sizeof(struct ophost_plugin) */
    const char *name;                      /* [a-z0-9_-]+, shown in logs */
    const char *version;                   /* free text, e.g. "1.2" */
    const char *description;               /* one line; may be NULL */
    const struct ophost_operator *const *operators; /* NULL-terminated, at least one */
};

/* The entry function. Called once per load on the main thread of every
 * process that loads the plugin (the scanner, each worker; see Processes):
 * it must not block, start threads or have side effects, and must return
 * the same descriptor every time (a worker whose plugins describe
 * themselves differently than in the scanner fails its session). Keep host
 * and return a descriptor that stays valid until the plugin is unloaded
 * (usually a static const). Returning NULL refuses the load (e.g. when
 * host->abi_minor lacks a function the plugin needs). A file replaced in
 * the plugin directory serves new sessions, while running sessions keep
 * the copy they loaded. */
typedef const struct ophost_plugin *(*ophost_plugin_entry_fn)(const struct ophost_host *host);

/* What every plugin defines (with OPHOST_EXPORT); declared here so the
 * definition is checked against this type. */
OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *host);

/* -------------------------------------------------------------- helpers
 *
 * Inline conveniences built on the ABI above; using them changes nothing in
 * what a plugin exports or requires of the host.
 */

/*
 * Defines the plugin descriptor and its entry function, which stores the
 * host table in host_var (a `static const struct ophost_host *` the plugin
 * declares before its callbacks) and returns the descriptor. The operators
 * are pointers to the plugin's `static const struct ophost_operator`s (at
 * least one). Use it once, at file scope, after the operators:
 *
 *     OPHOST_PLUGIN(host, "example", "1.0", "Examples", &comm_upper, &other);
 *
 * The descriptor declares this header's ABI version, so a host older than
 * this header refuses the plugin rather than lacking a function it calls.
 * Write the entry function by hand to do more (refuse to load by returning
 * NULL, or declare an older abi_minor and check host->abi_minor).
 */
#define OPHOST_PLUGIN(host_var, name, version, description, ...)                              \
    static const struct ophost_operator *const ophost_plugin_operators_[] = { __VA_ARGS__,   \
                                                                              NULL };        \
    static const struct ophost_plugin ophost_plugin_descriptor_ = {                           \
        OPHOST_ABI_MAJOR, OPHOST_ABI_MINOR, sizeof(struct ophost_plugin), (name), (version),  \
        (description), ophost_plugin_operators_                                               \
    };                                                                                        \
    OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(                            \
        const struct ophost_host *ophost_host_) {                                             \
        (host_var) = ophost_host_;                                                            \
        return &ophost_plugin_descriptor_;                                                    \
    }                                                                                         \
    OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(                            \
        const struct ophost_host *ophost_host_)

/* The name of a field type (OPHOST_FIELD_*) for messages: "u32", "string";
 * "?" for a value that is not one. */
static inline const char *ophost_field_type_name(uint32_t type) {
    static const char *const names[] = { "?", "u8", "u16", "u32", "u64", "s32", "s64",
                                         "bool", "timestamp", "string", "bytes" };
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/*
 * Finds field name of ds and checks that its type is type (0: any type).
 * Returns 0 with the handle in *ret, or explains the failure with
 * host->error and returns it, ready for `return`:
 *     -ENOENT  "no field 'usr' (did you mean 'uid'?)"
 *     -EINVAL  "field 'pid' is string, not u32"
 * (if the field is added by an operator that runs after the caller, the
 * host adds that and the fix to the message when the callback fails). A
 * field that is optional for the plugin is looked up with host->field_find
 * instead. Instance contexts, instantiate and pre_start (it allocates).
 */
static inline int ophost_field_require(const struct ophost_host *host, struct ophost_ctx *ctx,
                                       struct ophost_datasource *ds, const char *name,
                                       uint32_t type, ophost_field *ret) {
    ophost_field f;
    int r = host->field_find(ctx, ds, name, &f);
    if (r == -2 /* ENOENT */) {
        const char *closest = host->field_closest(ctx, ds, name);
        if (closest)
            return host->error(ctx, r, "no field '%s' (did you mean '%s'?)", name, closest);
        return host->error(ctx, r, "no field '%s'", name);
    }
    if (r < 0)
        return host->error(ctx, r, "cannot look up field '%s'", name);
    if (type != 0 && f.type != type)
        return host->error(ctx, -22 /* EINVAL */, "field '%s' is %s, not %s", name,
                           ophost_field_type_name(f.type), ophost_field_type_name(type));
    *ret = f;
    return 0;
}

/* Microseconds for timer_add from nanoseconds (a duration param), rounded
 * up: a period shorter than 1 us becomes 1 us, never 0 (which means
 * "once"). */
static inline uint64_t ophost_usec_from_nsec(uint64_t nsec) {
    return nsec / 1000u + (nsec % 1000u != 0);
}

/*
 * Now as an OPHOST_FIELD_TIMESTAMP value: nanoseconds since the Unix epoch
 * (CLOCK_REALTIME); 0 if the clock cannot be read. Defined (with
 * OPHOST_HAVE_TIMESTAMP_NOW) where <time.h> declares clock_gettime: in the
 * default modes of gcc and clang, in C++, and with -std=c99/c11 when the
 * plugin defines _POSIX_C_SOURCE 200809L before its first #include.
 */
#if defined(CLOCK_REALTIME)
#define OPHOST_HAVE_TIMESTAMP_NOW 1
static inline uint64_t ophost_timestamp_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return OPHOST_CAST_(uint64_t, ts.tv_sec) * 1000000000u + OPHOST_CAST_(uint64_t, ts.tv_nsec);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* OPHOST_OPHOST_H */
