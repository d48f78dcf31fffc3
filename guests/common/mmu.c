#include "mmu.h"
#include "idt.h"

#define POOL_PAGES 16
static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static int pool_used;

void *mmu_alloc_page(void)
{
    if (pool_used >= POOL_PAGES) {
        puts("mmu: page pool exhausted\n");
        exit_qemu(1);
    }
    void *p = pool[pool_used++];
    memset(p, 0, 4096);
    return p;
}

static uint64_t *next_level(uint64_t *entry)
{
    if (!(*entry & PTE_P)) {
        void *t = mmu_alloc_page();
        *entry = (uint64_t)(uintptr_t)t | PTE_P | PTE_W;
    } else if (*entry & PTE_PS) {
        puts("mmu: large page in the way\n");
        exit_qemu(1);
    }
    return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
}

uint64_t *mmu_pdpte(uint64_t va)
{
    uint64_t *l4 = (uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR);
    uint64_t *l3 = next_level(&l4[(va >> 39) & 511]);
    return &l3[(va >> 30) & 511];
}

uint64_t *mmu_pde(uint64_t va)
{
    uint64_t *l2 = next_level(mmu_pdpte(va));
    return &l2[(va >> 21) & 511];
}

uint64_t *mmu_pte(uint64_t va)
{
    uint64_t *l1 = next_level(mmu_pde(va));
    return &l1[(va >> 12) & 511];
}

void mmu_map_4k(uint64_t va, uint64_t pa, uint64_t flags)
{
    *mmu_pte(va) = (pa & PTE_ADDR) | flags | PTE_P;
    invlpg(va);
}

void mmu_unmap_4k(uint64_t va)
{
    *mmu_pte(va) &= ~PTE_P;
    invlpg(va);
}
