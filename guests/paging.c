/*
 * paging: builds 4-level mappings above 4 GiB (on top of the boot identity
 * map) and checks 4 KiB / 2 MiB / 1 GiB translations, accessed/dirty bits,
 * not-present / read-only / NX page faults, CR0.WP and INVLPG.
 * Each check prints one line; the last line is "paging: all N checks passed".
 */
#include "lib.h"
#include "idt.h"
#include "mmu.h"

static int checks, failures;

/* Identity-mapped backing pages. */
static uint8_t pg_a[4096] __attribute__((aligned(4096)));
static uint8_t pg_b[4096] __attribute__((aligned(4096)));
static uint8_t pg_c[4096] __attribute__((aligned(4096)));
static uint8_t pg_code[4096] __attribute__((aligned(4096)));
static volatile uint64_t marker = 0x0123456789abcdefull;

#define VA_4K    (TEST_VA_BASE + 0x10000)      /* 4 KiB page -> pg_a      */
#define VA_CODE  (TEST_VA_BASE + 0x20000)      /* 4 KiB page -> pg_code   */
#define VA_REMAP (TEST_VA_BASE + 0x30000)      /* 4 KiB page -> pg_b/pg_c */
#define VA_2M    (TEST_VA_BASE + 0x200000)     /* 2 MiB page -> PA_2M     */
#define PA_2M    0x800000ull
#define VA_1G    (TEST_VA_BASE + 0x40000000)   /* 1 GiB page -> PA 0      */

#define RD8(va)      (*(volatile uint8_t *)(uintptr_t)(va))
#define RD64(va)     (*(volatile uint64_t *)(uintptr_t)(va))
#define WR64(va, v)  (*(volatile uint64_t *)(uintptr_t)(va) = (v))

static void check(const char *name, int ok, uint64_t got, uint64_t want)
{
    checks++;
    if (ok) {
        printk("%s ok\n", name);
    } else {
        failures++;
        printk("%s FAIL: got 0x%lx want 0x%lx\n", name, got, want);
    }
}

/* Check a #PF recorded by the handler. rip_want is absolute. */
static void check_pf(const char *name, uint64_t err, uint64_t cr2, uint64_t rip_want)
{
    const volatile struct trap_frame *f = &last_trap.frame;
    int ok = last_trap.hits == 1 && f->vector == 14 && f->error == err &&
             last_trap.cr2 == cr2 && f->rip == rip_want;
    checks++;
    if (ok) {
        printk("%s ok vec=14 err=0x%lx cr2=0x%lx\n", name, f->error, last_trap.cr2);
    } else {
        failures++;
        printk("%s FAIL: hits=%d vec=%lu err=0x%lx (want 0x%lx) cr2=0x%lx (want 0x%lx) "
               "rip=0x%lx (want 0x%lx)\n",
               name, last_trap.hits, f->vector, f->error, err, last_trap.cr2, cr2,
               f->rip, rip_want);
    }
    trap_reset();
}

static void read_expect_pf(uint64_t va)
{
    uint64_t v = 0;
    __asm__ volatile(TRAP_ASM("mov (%1), %0") : "+r"(v) : "r"(va) : "r11", "memory");
}

static void write_expect_pf(uint64_t va, uint64_t val)
{
    __asm__ volatile(TRAP_ASM("mov %1, (%0)") : : "r"(va), "r"(val) : "r11", "memory");
}

static void jump_expect_pf(uint64_t va)
{
    __asm__ volatile(TRAP_ASM("jmp *%0") : : "r"(va) : "r11", "memory");
}

static void ad_bits(const char *name, uint64_t *pte, int want_a, int want_d)
{
    uint64_t e = *(volatile uint64_t *)pte;
    int a = !!(e & PTE_A), d = !!(e & PTE_D);
    checks++;
    if (a == want_a && d == want_d) {
        printk("%s ok A=%d D=%d\n", name, a, d);
    } else {
        failures++;
        printk("%s FAIL: A=%d D=%d (want A=%d D=%d) pte=0x%lx\n", name, a, d, want_a, want_d, e);
    }
}

void kmain(uint32_t magic, uint32_t mbinfo)
{
    puts("paging: start\n");
    idt_init();
    trap_reset();

    check("image below 8 MiB", (uint64_t)(uintptr_t)_end <= PA_2M, (uint64_t)(uintptr_t)_end, PA_2M);

    /* ---- 4 KiB mapping ---- */
    uint64_t pa_a = (uint64_t)(uintptr_t)pg_a;
    for (int i = 0; i < 4096; i++)
        pg_a[i] = (uint8_t)(i * 7 + 1);
    mmu_map_4k(VA_4K, pa_a, PTE_W);
    uint64_t *pte = mmu_pte(VA_4K);
    uint64_t *pde = mmu_pde(VA_4K);
    check("4K read-through", RD8(VA_4K + 0x777) == (uint8_t)(0x777 * 7 + 1), RD8(VA_4K + 0x777),
          (uint8_t)(0x777 * 7 + 1));
    WR64(VA_4K + 0x100, 0xfeedfacecafebeefull);
    check("4K write-through", *(volatile uint64_t *)(pg_a + 0x100) == 0xfeedfacecafebeefull,
          *(volatile uint64_t *)(pg_a + 0x100), 0xfeedfacecafebeefull);

    /* ---- accessed / dirty bits ---- */
    for (int round = 0; round < 2; round++) {
        *pte &= ~(PTE_A | PTE_D);
        invlpg(VA_4K);
        ad_bits(round ? "AD cleared again" : "AD cleared", pte, 0, 0);
        (void)RD64(VA_4K + 8);
        ad_bits(round ? "AD after read (2)" : "AD after read", pte, 1, 0);
        WR64(VA_4K + 16, 0x1234 + round);
        ad_bits(round ? "AD after write (2)" : "AD after write", pte, 1, 1);
    }
    /* Write first (no prior read): A and D both set. */
    *pte &= ~(PTE_A | PTE_D);
    invlpg(VA_4K);
    WR64(VA_4K + 24, 42);
    ad_bits("AD write-only", pte, 1, 1);
    /* Accessed bit in the non-leaf PDE (full TLB flush via CR3 reload). */
    *pde &= ~PTE_A;
    write_cr3(read_cr3());
    (void)RD64(VA_4K);
    check("PDE accessed", (*(volatile uint64_t *)pde & PTE_A) != 0, *pde, *pde | PTE_A);

    /* ---- not present ---- */
    *pte &= ~PTE_P;
    invlpg(VA_4K);
    read_expect_pf(VA_4K + 0x10);
    check_pf("PF not-present read", 0, VA_4K + 0x10, trap_fault_rip);
    write_expect_pf(VA_4K + 0x20, 1);
    check_pf("PF not-present write", 2, VA_4K + 0x20, trap_fault_rip);

    /* ---- read-only ---- */
    *pte = pa_a | PTE_P;
    invlpg(VA_4K);
    check("RO read", RD64(VA_4K + 0x100) == 0xfeedfacecafebeefull, RD64(VA_4K + 0x100),
          0xfeedfacecafebeefull);
    write_expect_pf(VA_4K + 0x100, 0x55);
    check_pf("PF read-only write", 3, VA_4K + 0x100, trap_fault_rip);
    check("RO write suppressed", *(volatile uint64_t *)(pg_a + 0x100) == 0xfeedfacecafebeefull,
          *(volatile uint64_t *)(pg_a + 0x100), 0xfeedfacecafebeefull);

    /* CR0.WP=0: supervisor writes ignore R/W. */
    {
        uint64_t cr0 = read_cr0();
        __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 16)) : "memory");
        WR64(VA_4K + 0x108, 0xabcdull);
        __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
        check("CR0.WP=0 write to RO", *(volatile uint64_t *)(pg_a + 0x108) == 0xabcdull,
              *(volatile uint64_t *)(pg_a + 0x108), 0xabcd);
        invlpg(VA_4K);
        write_expect_pf(VA_4K + 0x108, 0x55);
        check_pf("PF CR0.WP=1 again", 3, VA_4K + 0x108, trap_fault_rip);
    }

    /* ---- 2 MiB page ---- */
    {
        *mmu_pde(VA_2M) = PA_2M | PTE_P | PTE_W | PTE_PS;
        invlpg(VA_2M);
        WR64(PA_2M + 0x1238, 0x2222000011110000ull);
        WR64(PA_2M + 0x1FFFF8, 0x2222ffff1111ffffull);
        check("2M alias read", RD64(VA_2M + 0x1238) == 0x2222000011110000ull,
              RD64(VA_2M + 0x1238), 0x2222000011110000ull);
        check("2M alias read (end)", RD64(VA_2M + 0x1FFFF8) == 0x2222ffff1111ffffull,
              RD64(VA_2M + 0x1FFFF8), 0x2222ffff1111ffffull);
        WR64(VA_2M + 0x100008, 0x5a5a5a5a12345678ull);
        check("2M alias write", RD64(PA_2M + 0x100008) == 0x5a5a5a5a12345678ull,
              RD64(PA_2M + 0x100008), 0x5a5a5a5a12345678ull);
        ad_bits("2M PDE AD", mmu_pde(VA_2M), 1, 1);
    }

    /* ---- 1 GiB page ---- */
    {
        uint32_t a, b, c, d;
        cpuid(0x80000000, 0, &a, &b, &c, &d);
        int has1g = 0;
        if (a >= 0x80000001) {
            cpuid(0x80000001, 0, &a, &b, &c, &d);
            has1g = (d >> 26) & 1;
        }
        if (!has1g) {
            puts("1G skipped (no PDPE1GB)\n");
        } else {
            *mmu_pdpte(VA_1G) = 0 | PTE_P | PTE_W | PTE_PS;
            invlpg(VA_1G);
            uint64_t pm = (uint64_t)(uintptr_t)&marker;
            check("1G alias read (kernel data)", RD64(VA_1G + pm) == 0x0123456789abcdefull,
                  RD64(VA_1G + pm), 0x0123456789abcdefull);
            check("1G alias read (2M region)", RD64(VA_1G + PA_2M + 0x1238) == 0x2222000011110000ull,
                  RD64(VA_1G + PA_2M + 0x1238), 0x2222000011110000ull);
            WR64(VA_1G + pm, 0x1111111111111111ull);
            check("1G alias write", marker == 0x1111111111111111ull, marker, 0x1111111111111111ull);
            WR64(VA_1G + 0xFFFFF8ull, 0x77);     /* last qword below 16 MiB */
            check("1G alias 16M", RD64(0xFFFFF8ull) == 0x77, RD64(0xFFFFF8ull), 0x77);
        }
    }

    /* ---- NX ---- */
    {
        static const uint8_t code[] = { 0xb8, 0xcd, 0xab, 0x34, 0x12, 0xc3 }; /* mov $0x1234abcd,%eax; ret */
        memcpy(pg_code, code, sizeof(code));
        uint64_t efer = rdmsr(0xC0000080);
        wrmsr(0xC0000080, efer | (1ull << 11));      /* EFER.NXE */
        check("EFER.NXE set", (rdmsr(0xC0000080) >> 11) & 1, rdmsr(0xC0000080), efer | (1 << 11));

        mmu_map_4k(VA_CODE, (uint64_t)(uintptr_t)pg_code, 0);
        uint32_t r = ((uint32_t(*)(void))(uintptr_t)VA_CODE)();
        check("exec from mapped page", r == 0x1234abcd, r, 0x1234abcd);

        *mmu_pte(VA_CODE) |= PTE_NX;
        invlpg(VA_CODE);
        check("NX page readable", RD8(VA_CODE) == 0xb8, RD8(VA_CODE), 0xb8);
        jump_expect_pf(VA_CODE);
        check_pf("PF NX fetch", 0x11, VA_CODE, VA_CODE);

        mmu_unmap_4k(VA_CODE);
        jump_expect_pf(VA_CODE + 2);
        check_pf("PF not-present fetch", 0x10, VA_CODE + 2, VA_CODE + 2);
    }

    /* ---- remap + INVLPG ---- */
    {
        memset(pg_b, 0xB0, sizeof(pg_b));
        memset(pg_c, 0xC0, sizeof(pg_c));
        mmu_map_4k(VA_REMAP, (uint64_t)(uintptr_t)pg_b, PTE_W);
        check("remap old", RD64(VA_REMAP + 0x40) == 0xB0B0B0B0B0B0B0B0ull, RD64(VA_REMAP + 0x40),
              0xB0B0B0B0B0B0B0B0ull);
        *mmu_pte(VA_REMAP) = (uint64_t)(uintptr_t)pg_c | PTE_P | PTE_W;
        invlpg(VA_REMAP);
        check("remap new", RD64(VA_REMAP + 0x40) == 0xC0C0C0C0C0C0C0C0ull, RD64(VA_REMAP + 0x40),
              0xC0C0C0C0C0C0C0C0ull);
        WR64(VA_REMAP + 0x48, 0x1);
        check("remap write target", *(volatile uint64_t *)(pg_c + 0x48) == 1 &&
              *(volatile uint64_t *)(pg_b + 0x48) == 0xB0B0B0B0B0B0B0B0ull,
              *(volatile uint64_t *)(pg_c + 0x48), 1);
    }

    if (failures) {
        printk("paging: %d of %d checks FAILED\n", failures, checks);
        exit_qemu(1);
    }
    printk("paging: all %d checks passed\n", checks);
    exit_qemu(0);
}
