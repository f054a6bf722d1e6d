/*
 * comm_hash — the enricher again, in C++ (C++14 or later): adds the u64
 * field comm_hash, the 64-bit FNV-1a hash of the string field named by the
 * param `field` (default comm). Built out of tree like example.c:
 *
 *     c++ -std=c++17 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags ophost) \
 *         -o comm_hash.so comm_hash.cc
 *
 * What differs from C: the host calls the callbacks from C, so no exception
 * may leave them (they are noexcept: one escaping ends the session's
 * process); state comes from new (std::nothrow). The descriptor structs are
 * built by constexpr functions: C++20 designated initializers work too, in
 * member order (.destroy before .process), but g++ -Wextra then warns about
 * every member left out.
 */
#include <cerrno>
#include <cstdint>
#include <new>
#include <ophost/ophost.h>

namespace {

const ophost_host *host;

struct CommHash {
    ophost_datasource *ds = nullptr;
    ophost_field in{}, hash{};
};

std::uint64_t fnv1a(const char *s, std::size_t len) noexcept {
    std::uint64_t h = 14695981039346656037u;
    for (std::size_t i = 0; i < len; i++)
        h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211u;
    return h;
}

int instantiate(ophost_ctx *ctx, void *, void **ret_data) noexcept {
    auto *c = new (std::nothrow) CommHash;
    const char *field;
    int r;

    if (!c)
        return -ENOMEM;
    if ((r = host->param_string(ctx, "field", &field)) < 0 ||
        (r = host->datasource_find(ctx, nullptr, &c->ds)) < 0 ||
        (r = ophost_field_require(host, ctx, c->ds, field, OPHOST_FIELD_STRING, &c->in)) < 0 ||
        (r = host->field_add(ctx, c->ds, "comm_hash", OPHOST_FIELD_U64, &c->hash)) < 0) {
        delete c;
        return r;
    }
    *ret_data = c;
    return 0;
}

int destroy(ophost_ctx *, void *data) noexcept {
    delete static_cast<CommHash *>(data);
    return 0;
}

/*
 * Every batch: fields by offset, no allocation; where the input is unset,
 * comm_hash stays 0 (integers have no unset state).
 */
int process(ophost_ctx *, void *data, ophost_batch *b) noexcept {
    const auto *c = static_cast<const CommHash *>(data);
    for (std::uint32_t i = 0; i < b->n && b->ds == c->ds; i++) {
        ophost_event *e = ophost_batch_event(b, i);
        std::size_t len;
        if (const char *s = ophost_event_get_string(b, e, c->in, &len))
            ophost_event_set_u64(e, c->hash, fnv1a(s, len));
    }
    return 0;
}

constexpr ophost_param string_param(const char *key, const char *description,
                                    const char *default_value) {
    ophost_param p{};
    p.key = key;
    p.description = description;
    p.type = OPHOST_PARAM_STRING;
    p.default_value = default_value;
    return p;
}

constexpr ophost_param params[] = {
    string_param("field", "the string field to hash", "comm"),
    {}, /* the end */
};

constexpr ophost_operator make_comm_hash() {
    ophost_operator op{}; /* every other member 0 / nullptr */
    op.struct_size = sizeof(ophost_operator);
    op.name = "comm_hash";
    op.description = "Adds comm_hash: the FNV-1a hash of a string field";
    op.priority = OPHOST_PRIORITY_ENRICHER;
    op.instance_params = params;
    op.instantiate = instantiate;
    op.destroy = destroy;
    op.process = process;
    return op;
}

constexpr ophost_operator comm_hash = make_comm_hash();

} /* namespace */

/* At file scope, outside the namespace: it defines the extern "C" entry. */
OPHOST_PLUGIN(host, "comm_hash", "1.0", "An enricher in C++", &comm_hash);
