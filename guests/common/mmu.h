/* Helpers to extend the boot identity map with extra 4-level mappings. */
#ifndef HYPERSTEP_GUEST_MMU_H
#define HYPERSTEP_GUEST_MMU_H

#include "lib.h"

#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_U    (1ull << 2)
#define PTE_PWT  (1ull << 3)
#define PTE_PCD  (1ull << 4)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_G    (1ull << 8)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

/* Test region: virtual addresses >= 4 GiB are not covered by the boot map. */
#define TEST_VA_BASE 0x100000000ull

/* Pointer to the PDPT entry for va (creates the PDPT if needed). */
uint64_t *mmu_pdpte(uint64_t va);
/* Pointer to the PD entry for va (creates PDPT/PD as needed). */
uint64_t *mmu_pde(uint64_t va);
/* Pointer to the 4 KiB PTE for va (creates PDPT/PD/PT as needed). */
uint64_t *mmu_pte(uint64_t va);
/* Map one 4 KiB page and invlpg it. */
void mmu_map_4k(uint64_t va, uint64_t pa, uint64_t flags);
/* Clear the PTE's P bit (keeps the rest) and invlpg. */
void mmu_unmap_4k(uint64_t va);
/* A zeroed, 4 KiB aligned, identity-mapped page from a static pool. */
void *mmu_alloc_page(void);

#endif
