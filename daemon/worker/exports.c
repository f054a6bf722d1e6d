/* exports.c — the exported symbols of an ELF object (see exports.h). */
#include "exports.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/stat.h>

#include "util.h"

/* The loader only loads objects of the process's own class. */
#if __ELF_NATIVE_CLASS == 64
#define NATIVE_CLASS ELFCLASS64
#define SYM_BIND(info) ELF64_ST_BIND(info)
#define SYM_VISIBILITY(other) ELF64_ST_VISIBILITY(other)
#else
#define NATIVE_CLASS ELFCLASS32
#define SYM_BIND(info) ELF32_ST_BIND(info)
#define SYM_VISIBILITY(other) ELF32_ST_VISIBILITY(other)
#endif

/* Reads n bytes at off of fd (of size size) into buf: 0, -EBADMSG when the
 * range is not in the file, or the errno of pread. */
static int read_at(int fd, uint64_t size, uint64_t off, void *buf, size_t n) {
    ssize_t got;
    if (off > size || n > size - off)
        return -EBADMSG;
    got = pread(fd, buf, n, (off_t) off);
    if (got < 0)
        return -errno;
    return (size_t) got == n ? 0 : -EBADMSG;
}

int exports_read(int fd, size_t max, char ***ret_names) {
    _cleanup_(strv_freep) char **names = NULL;
    _cleanup_free_ ElfW(Sym) *syms = NULL;
    _cleanup_free_ char *strtab = NULL;
    ElfW(Shdr) dynsym = { 0 }, link;
    ElfW(Ehdr) eh;
    struct stat st;
    size_t n_syms;
    int count = 0, r;

    if (fstat(fd, &st) < 0)
        return -errno;
    r = read_at(fd, (uint64_t) st.st_size, 0, &eh, sizeof(eh));
    if (r < 0)
        return r == -EBADMSG ? -ENOEXEC : r;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != NATIVE_CLASS ||
        eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0)
        return -ENOEXEC;
    for (size_t i = 0; i < eh.e_shnum && dynsym.sh_type != SHT_DYNSYM; i++) {
        r = read_at(fd, (uint64_t) st.st_size, eh.e_shoff + i * sizeof(ElfW(Shdr)), &dynsym,
                    sizeof(dynsym));
        if (r < 0)
            return r;
    }
    if (dynsym.sh_type != SHT_DYNSYM) {
        *ret_names = NULL; /* no dynamic symbols at all */
        return 0;
    }
    if (dynsym.sh_entsize != sizeof(ElfW(Sym)) || dynsym.sh_link >= eh.e_shnum)
        return -EBADMSG;
    r = read_at(fd, (uint64_t) st.st_size, eh.e_shoff + dynsym.sh_link * sizeof(ElfW(Shdr)),
                &link, sizeof(link));
    if (r < 0)
        return r;
    n_syms = dynsym.sh_size / sizeof(ElfW(Sym));
    if (link.sh_type != SHT_STRTAB || link.sh_size == 0 || link.sh_size > (uint64_t) st.st_size ||
        dynsym.sh_size > (uint64_t) st.st_size)
        return -EBADMSG;
    syms = malloc(dynsym.sh_size ? dynsym.sh_size : 1);
    strtab = malloc(link.sh_size + 1);
    if (!syms || !strtab)
        return -ENOMEM;
    if ((r = read_at(fd, (uint64_t) st.st_size, dynsym.sh_offset, syms, dynsym.sh_size)) < 0 ||
        (r = read_at(fd, (uint64_t) st.st_size, link.sh_offset, strtab, link.sh_size)) < 0)
        return r;
    strtab[link.sh_size] = '\0';

    for (size_t i = 0; i < n_syms; i++) {
        const ElfW(Sym) *s = &syms[i];
        unsigned bind = SYM_BIND(s->st_info), vis = SYM_VISIBILITY(s->st_other);
        const char *name = s->st_name < link.sh_size ? strtab + s->st_name : "";
        if (s->st_shndx == SHN_UNDEF || s->st_shndx == SHN_ABS || !*name ||
            (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) ||
            (vis != STV_DEFAULT && vis != STV_PROTECTED))
            continue;
        if ((size_t) count < max && strv_extend(&names, name) < 0)
            return -ENOMEM;
        if (count < INT32_MAX)
            count++;
    }
    *ret_names = TAKE_PTR(names);
    return count;
}
