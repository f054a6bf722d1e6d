/*
 * enrich-cache.h — a fixed-size hash index with CLOCK eviction, shared by
 * the enricher plugins (procinfo, uidgid, unit; each compiles its own copy,
 * everything here is static). Keys are two u64 words; the values live in the
 * caller's own arrays, indexed by the slot number this cache hands out.
 *
 * Memory is allocated once, in enrich_cache_init; lookups and inserts never
 * allocate. CLOCK: every hit sets the slot's reference bit; an insert into
 * a full cache advances the hand over the slots, clearing set bits, and
 * reuses the first slot whose bit was clear (a second chance for entries
 * used since the hand last passed). A size of 0 is a disabled cache: every
 * lookup misses and inserts return ENRICH_CACHE_NONE.
 */
#ifndef OPHOST_PLUGINS_ENRICH_CACHE_H
#define OPHOST_PLUGINS_ENRICH_CACHE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define ENRICH_CACHE_NONE UINT32_MAX

struct enrich_cache_slot {
    uint64_t k1, k2;
    uint32_t next;      /* next slot in the bucket's chain, or ENRICH_CACHE_NONE */
    uint8_t ref;
};

struct enrich_cache {
    uint32_t size;      /* slots */
    uint32_t used;      /* slots handed out so far (<= size) */
    uint32_t hand;
    uint32_t mask;      /* buckets - 1 */
    uint32_t *buckets;
    struct enrich_cache_slot *slots;
    uint64_t hits, misses, evictions;
};

static inline uint32_t enrich_cache_hash(uint64_t k1, uint64_t k2) {
    uint64_t h = (k1 ^ (k2 * 0x9e3779b97f4a7c15u)) * 0xbf58476d1ce4e5b9u;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebu;
    return (uint32_t) (h ^ (h >> 29));
}

/* Sets c up for size entries; 0 or -ENOMEM. */
static inline int enrich_cache_init(struct enrich_cache *c, uint32_t size) {
    uint32_t buckets = 1;

    *c = (struct enrich_cache){ .size = size };
    if (size == 0)
        return 0;
    while (buckets < size * 2u && buckets < (1u << 31))
        buckets <<= 1;
    c->buckets = malloc(buckets * sizeof(*c->buckets));
    c->slots = calloc(size, sizeof(*c->slots));
    if (!c->buckets || !c->slots) {
        free(c->buckets);
        free(c->slots);
        *c = (struct enrich_cache){ 0 };
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < buckets; i++)
        c->buckets[i] = ENRICH_CACHE_NONE;
    c->mask = buckets - 1;
    return 0;
}

static inline void enrich_cache_fini(struct enrich_cache *c) {
    free(c->buckets);
    free(c->slots);
    *c = (struct enrich_cache){ 0 };
}

/* The slot holding (k1, k2), or ENRICH_CACHE_NONE; counts a hit or miss. */
static inline uint32_t enrich_cache_find(struct enrich_cache *c, uint64_t k1, uint64_t k2) {
    if (c->size) {
        uint32_t i = c->buckets[enrich_cache_hash(k1, k2) & c->mask];
        for (; i != ENRICH_CACHE_NONE; i = c->slots[i].next)
            if (c->slots[i].k1 == k1 && c->slots[i].k2 == k2) {
                c->slots[i].ref = 1;
                c->hits++;
                return i;
            }
    }
    c->misses++;
    return ENRICH_CACHE_NONE;
}

static inline void enrich_cache_unlink(struct enrich_cache *c, uint32_t slot) {
    uint32_t *p = &c->buckets[enrich_cache_hash(c->slots[slot].k1, c->slots[slot].k2) & c->mask];
    while (*p != slot)
        p = &c->slots[*p].next;
    *p = c->slots[slot].next;
}

/* A slot for (k1, k2), which must not be in the cache: a free one, or the
 * one CLOCK evicts. The caller overwrites the slot's value. Returns
 * ENRICH_CACHE_NONE only when the cache is disabled. */
static inline uint32_t enrich_cache_insert(struct enrich_cache *c, uint64_t k1, uint64_t k2) {
    uint32_t slot, b;

    if (c->size == 0)
        return ENRICH_CACHE_NONE;
    if (c->used < c->size) {
        slot = c->used++;
    } else {
        while (c->slots[c->hand].ref) {
            c->slots[c->hand].ref = 0;
            c->hand = c->hand + 1 == c->size ? 0 : c->hand + 1;
        }
        slot = c->hand;
        c->hand = c->hand + 1 == c->size ? 0 : c->hand + 1;
        enrich_cache_unlink(c, slot);
        c->evictions++;
    }
    b = enrich_cache_hash(k1, k2) & c->mask;
    c->slots[slot] = (struct enrich_cache_slot){ .k1 = k1, .k2 = k2, .next = c->buckets[b] };
    c->buckets[b] = slot;
    return slot;
}

#endif
