/*
 * usyms.h — user-space addresses of a process to function names, for
 * profile_cpu: /proc/PID/maps tells which file an address is in, the file's
 * ELF symbol table (.symtab, else .dynsym, read with libelf) and its
 * program headers tell which function. Files are cached by device and
 * inode (the ELF tables of USYMS_FILES files at most, the least recently
 * loaded one evicted); maps are read once per process per round. Files
 * are opened through /proc/PID/root, so processes in other mount
 * namespaces resolve too. Header-only, static; allocates when it loads a
 * file or reads maps, never per address.
 */
#ifndef OPHOST_PROFILE_CPU_USYMS_H
#define OPHOST_PROFILE_CPU_USYMS_H

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USYMS_FILES 64
#define USYMS_SEGS 16

struct usym {
    uint64_t addr, size;
    uint32_t name;
};

struct usyms_file {
    uint64_t dev, ino;       /* dev 0 and ino 0: free */
    struct usym *syms;
    size_t n;
    char *names;
    struct { uint64_t off, vaddr, len; } seg[USYMS_SEGS];
    unsigned nseg;
};

struct usyms_map {
    uint64_t start, end, off, dev, ino;
    uint32_t path;           /* offset in paths */
};

struct usyms {
    struct usyms_file files[USYMS_FILES];
    unsigned next_evict;
    uint32_t pid;            /* whose maps are loaded; 0 = none */
    struct usyms_map *maps;
    size_t n_maps, cap_maps;
    char *paths;
    size_t paths_len, paths_cap;
};

static inline int usym_cmp(const void *a, const void *b) {
    const struct usym *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static inline void usyms_file_free(struct usyms_file *f) {
    free(f->syms);
    free(f->names);
    *f = (struct usyms_file){ 0 };
}

static inline void usyms_free(struct usyms *u) {
    for (unsigned i = 0; i < USYMS_FILES; i++)
        usyms_file_free(&u->files[i]);
    free(u->maps);
    free(u->paths);
    *u = (struct usyms){ 0 };
}

/* Reads the function symbols and executable segments of an ELF file. */
static inline int usyms_file_load(struct usyms_file *f, int fd) {
    size_t cap = 0, names_cap = 0, names_len = 0, nph = 0;
    Elf_Scn *scn = NULL;
    Elf *e;
    int want = SHT_SYMTAB;

    elf_version(EV_CURRENT);
    e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!e)
        return -EINVAL;
    if (elf_getphdrnum(e, &nph) == 0)
        for (size_t i = 0; i < nph && f->nseg < USYMS_SEGS; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(e, (int) i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
                f->seg[f->nseg++] = (typeof(f->seg[0])){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
        }
again:
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        Elf_Data *data;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != (unsigned) want || !sh.sh_entsize ||
            !(data = elf_getdata(scn, NULL)))
            continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            const char *name;
            size_t len;
            if (!gelf_getsym(data, (int) i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                sym.st_value == 0 || !(name = elf_strptr(e, sh.sh_link, sym.st_name)))
                continue;
            len = strlen(name) + 1;
            if (f->n == cap) {
                struct usym *s = realloc(f->syms, (cap = cap ? cap * 2 : 1024) * sizeof(*s));
                if (!s)
                    goto nomem;
                f->syms = s;
            }
            while (names_len + len > names_cap) {
                char *s = realloc(f->names, names_cap = names_cap ? names_cap * 2 : 65536);
                if (!s)
                    goto nomem;
                f->names = s;
            }
            memcpy(f->names + names_len, name, len);
            f->syms[f->n++] = (struct usym){ sym.st_value, sym.st_size, (uint32_t) names_len };
            names_len += len;
        }
    }
    if (f->n == 0 && want == SHT_SYMTAB) {
        want = SHT_DYNSYM; /* a stripped file: its dynamic symbols */
        scn = NULL;
        goto again;
    }
    elf_end(e);
    qsort(f->syms, f->n, sizeof(*f->syms), usym_cmp);
    return 0;
nomem:
    elf_end(e);
    return -ENOMEM;
}

/* Reads /proc/PID/maps (executable file mappings) unless already read. */
static inline int usyms_load_maps(struct usyms *u, uint32_t pid) {
    char path[64], line[4096];
    FILE *f;

    if (u->pid == pid)
        return 0;
    u->pid = pid;
    u->n_maps = u->paths_len = 0;
    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
    if (!(f = fopen(path, "re")))
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, end, off, ino;
        unsigned maj, min;
        char perms[8];
        int pos = 0;
        size_t len;
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
                   &ino, &pos) < 7 || !strchr(perms, 'x') || line[pos] != '/')
            continue;
        len = strcspn(line + pos, "\n");
        if (u->n_maps == u->cap_maps) {
            struct usyms_map *m = realloc(u->maps, (u->cap_maps = u->cap_maps ? u->cap_maps * 2 : 64) *
                                                       sizeof(*m));
            if (!m)
                break;
            u->maps = m;
        }
        while (u->paths_len + len + 1 > u->paths_cap) {
            char *p = realloc(u->paths, u->paths_cap = u->paths_cap ? u->paths_cap * 2 : 8192);
            if (!p)
                goto out;
            u->paths = p;
        }
        memcpy(u->paths + u->paths_len, line + pos, len);
        u->paths[u->paths_len + len] = '\0';
        u->maps[u->n_maps++] = (struct usyms_map){ start, end, off, ((uint64_t) maj << 32) | min,
                                                   ino, (uint32_t) u->paths_len };
        u->paths_len += len + 1;
    }
out:
    fclose(f);
    return 0;
}

static inline struct usyms_file *usyms_file_of(struct usyms *u, const struct usyms_map *m) {
    struct usyms_file *f;
    char path[4200];
    int fd;

    for (unsigned i = 0; i < USYMS_FILES; i++)
        if (u->files[i].ino == m->ino && u->files[i].dev == m->dev && (m->ino || m->dev))
            return &u->files[i];
    f = &u->files[u->next_evict];
    u->next_evict = (u->next_evict + 1) % USYMS_FILES;
    usyms_file_free(f);
    f->dev = m->dev;
    f->ino = m->ino;
    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/root%s", u->pid, u->paths + m->path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void) usyms_file_load(f, fd);
        close(fd);
    }
    return f;
}

/* The function at addr in process pid, into buf ("busy_loop"); when it is
 * not known, "[file]" or "[unknown]". Returns buf. */
static inline const char *usyms_name(struct usyms *u, uint32_t pid, uint64_t addr, char *buf,
                                     size_t size) {
    const struct usyms_map *m = NULL;
    struct usyms_file *f;
    uint64_t off, vaddr = 0;
    size_t lo = 0, hi;
    const char *base;

    snprintf(buf, size, "[unknown]");
    if (usyms_load_maps(u, pid) < 0)
        return buf;
    for (size_t i = 0; i < u->n_maps; i++)
        if (addr >= u->maps[i].start && addr < u->maps[i].end) {
            m = &u->maps[i];
            break;
        }
    if (!m)
        return buf;
    base = strrchr(u->paths + m->path, '/');
    snprintf(buf, size, "[%s]", base ? base + 1 : u->paths + m->path);
    f = usyms_file_of(u, m);
    off = addr - m->start + m->off;
    for (unsigned i = 0; i < f->nseg; i++)
        if (off >= f->seg[i].off && off < f->seg[i].off + f->seg[i].len) {
            vaddr = off - f->seg[i].off + f->seg[i].vaddr;
            break;
        }
    if (!vaddr)
        return buf;
    for (hi = f->n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && (f->syms[lo - 1].size == 0 ||
                   vaddr < f->syms[lo - 1].addr + f->syms[lo - 1].size))
        snprintf(buf, size, "%s", f->names + f->syms[lo - 1].name);
    return buf;
}

#endif
