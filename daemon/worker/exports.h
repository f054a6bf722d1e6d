/*
 * exports.h — the symbols a shared object exports, read from the ELF file
 * itself (its dynamic symbol table), for `ophostd --check-plugin`: a plugin
 * should export its entry function and nothing else. Runs in the scanner,
 * after the object loaded; the file is still untrusted input, so every
 * offset is checked against its size.
 */
#ifndef OPHOST_DAEMON_EXPORTS_H
#define OPHOST_DAEMON_EXPORTS_H

#include <stddef.h>

/*
 * The names of the symbols the object in fd defines and exports (global,
 * weak or unique binding, default or protected visibility; not absolute
 * symbols such as version nodes), in symbol table order, at most max of
 * them into *ret_names (a NULL-terminated strv the caller frees; NULL when
 * there are none). Returns how many there are in all (which may exceed
 * max); -ENOEXEC when fd is not a native ELF object with a section table,
 * -EBADMSG when a table lies outside the file, or another negative errno.
 */
int exports_read(int fd, size_t max, char ***ret_names);

#endif
