/* exports.c — valid, but built without -fvisibility=hidden and with three
 * functions and a variable that are not static: it exports them besides its
 * entry (a --check-plugin warning, not a refusal). Built with EXPORTS_MANY
 * (manyexports.so) it exports 100 functions more: past the 64 names the
 * scanner lists, the count must stay right. */
#include "test-plugin.h"

#ifdef EXPORTS_MANY
#define NAME "manyexports"
/* Bytes that are not UTF-8 and a terminal escape, in a plugin's text. */
#define DESCRIPTION "many \xff\xfe exports \x1b[31mred"
#define MANY_(n)                                                                                   \
    int exports_many_##n(void);                                                                    \
    int exports_many_##n(void) {                                                                   \
        return exports_counter;                                                                    \
    }
#define MANY10_(t)                                                                                 \
    MANY_(t##0) MANY_(t##1) MANY_(t##2) MANY_(t##3) MANY_(t##4)                                    \
    MANY_(t##5) MANY_(t##6) MANY_(t##7) MANY_(t##8) MANY_(t##9)
#else
#define NAME "exports"
#define DESCRIPTION "exports"
#endif

int exports_counter;
int exports_helper_a(void);
int exports_helper_b(void);
int exports_helper_c(void);

int exports_helper_a(void) {
    return ++exports_counter;
}

int exports_helper_b(void) {
    return exports_helper_a() + 1;
}

int exports_helper_c(void) {
    return exports_helper_b() + 1;
}

#ifdef EXPORTS_MANY
MANY10_(1) MANY10_(2) MANY10_(3) MANY10_(4) MANY10_(5)
MANY10_(6) MANY10_(7) MANY10_(8) MANY10_(9) MANY10_(a)
#endif

static const struct ophost_operator op = {
    .struct_size = sizeof(struct ophost_operator),
    .name = NAME "-op",
};

static const struct ophost_operator *const operators[] = { &op, NULL };

static const struct ophost_plugin plugin = {
    .abi_major = OPHOST_ABI_MAJOR,
    .abi_minor = OPHOST_ABI_MINOR,
    .struct_size = sizeof(struct ophost_plugin),
    .name = NAME,
    .description = DESCRIPTION,
    .operators = operators,
};

OPHOST_EXPORT const struct ophost_plugin *ophost_plugin_entry(const struct ophost_host *h) {
    (void) h;
    return &plugin;
}
