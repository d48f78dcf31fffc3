/*
 * exceptions: installs a 64-bit IDT and checks exception delivery:
 * vector, error code, CR2, saved RIP (fault vs. trap), saved CS/RFLAGS and
 * GPR preservation.  Each check prints one line; the last line is
 * "exceptions: all N checks passed".
 */
#include "lib.h"
#include "idt.h"
#include "mmu.h"

static int checks, failures;

/* Test page used for #PF checks (identity-mapped backing memory). */
static uint8_t pf_page[4096] __attribute__((aligned(4096)));
#define PF_VA (TEST_VA_BASE + 0x5000)

static void check_trap(const char *name, uint64_t vec, uint64_t err, int64_t rip_off,
                       int check_cr2, uint64_t cr2)
{
    const volatile struct trap_frame *f = &last_trap.frame;
    int64_t off = (int64_t)(f->rip - trap_fault_rip);
    int ok = last_trap.hits == 1 && f->vector == vec && f->error == err && off == rip_off &&
             f->cs == 0x08 && (f->rflags & 0x2) && f->ss == 0x10;
    if (check_cr2)
        ok = ok && last_trap.cr2 == cr2;
    checks++;
    if (ok) {
        printk("%s ok vec=%lu err=0x%lx rip=+%ld", name, f->vector, f->error, off);
        if (check_cr2)
            printk(" cr2=0x%lx", last_trap.cr2);
        putc('\n');
    } else {
        failures++;
        printk("%s FAIL: hits=%d vec=%lu (want %lu) err=0x%lx (want 0x%lx) rip=+%ld (want +%ld) "
               "cs=0x%lx ss=0x%lx rflags=0x%lx",
               name, last_trap.hits, f->vector, vec, f->error, err, off, rip_off,
               f->cs, f->ss, f->rflags);
        if (check_cr2)
            printk(" cr2=0x%lx (want 0x%lx)", last_trap.cr2, cr2);
        putc('\n');
    }
    trap_reset();
}

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

static void syscall_hook(struct trap_frame *f)
{
    /* int $0x80: a toy "syscall" that returns ~rax + rbx in rax. */
    if (f->vector == 0x80)
        f->rax = ~f->rax + f->rbx;
}

void kmain(uint32_t magic, uint32_t mbinfo)
{
    puts("exceptions: start\n");
    idt_init();
    trap_reset();

    /* ---- #UD ---- */
    __asm__ volatile(TRAP_ASM("ud2") ::: "r11", "memory");
    check_trap("UD ud2", 6, 0, 0, 0, 0);

    __asm__ volatile(TRAP_ASM(".byte 0x06") ::: "r11", "memory");   /* push %es: invalid in 64-bit mode */
    check_trap("UD push-es", 6, 0, 0, 0, 0);

    __asm__ volatile(TRAP_ASM(".byte 0xf0, 0x01, 0xc3") ::: "r11", "memory"); /* lock add %eax,%ebx */
    check_trap("UD lock-reg", 6, 0, 0, 0, 0);

    /* ---- GPRs are preserved across an exception and visible in the frame ---- */
    {
        uint64_t b = 0x1111222233334444ull, si = 0x5555666677778888ull;
        uint64_t di = 0x99990000aaaabbbbull, r15v = 0xccccddddeeeeffffull;
        uint64_t ob, osi, odi, or15;
        __asm__ volatile(
            "mov %4, %%rbx\n\t"
            "mov %5, %%rsi\n\t"
            "mov %6, %%rdi\n\t"
            "mov %7, %%r15\n\t"
            TRAP_ASM("ud2")
            "mov %%rbx, %0\n\t"
            "mov %%rsi, %1\n\t"
            "mov %%rdi, %2\n\t"
            "mov %%r15, %3\n\t"
            : "=m"(ob), "=m"(osi), "=m"(odi), "=m"(or15)
            : "m"(b), "m"(si), "m"(di), "m"(r15v)
            : "rbx", "rsi", "rdi", "r15", "r11", "memory");
        const volatile struct trap_frame *f = &last_trap.frame;
        int ok = ob == b && osi == si && odi == di && or15 == r15v &&
                 f->rbx == b && f->rsi == si && f->rdi == di && f->r15 == r15v;
        trap_reset();
        check("UD regs-preserved", ok, ob ^ osi ^ odi ^ or15, b ^ si ^ di ^ r15v);
    }

    /* ---- #DE ---- */
    __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\txor %%edx, %%edx\n\t"
                     TRAP_ASM("divl %%ecx")
                     ::: "rax", "rcx", "rdx", "r11", "memory");
    check_trap("DE div0", 0, 0, 0, 0, 0);

    __asm__ volatile("mov $0x80000000, %%eax\n\tcltd\n\tmov $-1, %%ecx\n\t"
                     TRAP_ASM("idivl %%ecx")
                     ::: "rax", "rcx", "rdx", "r11", "memory");
    check_trap("DE idiv-overflow", 0, 0, 0, 0, 0);

    __asm__ volatile("xor %%eax, %%eax\n\tmov $1, %%edx\n\tmov $1, %%ecx\n\t"
                     TRAP_ASM("divq %%rcx")
                     ::: "rax", "rcx", "rdx", "r11", "memory");
    check_trap("DE div64-overflow", 0, 0, 0, 0, 0);

    /* ---- #BP: trap, saved RIP points after int3 ---- */
    __asm__ volatile(TRAP_ASM("int3") ::: "r11", "memory");
    check_trap("BP int3", 3, 0, 1, 0, 0);

    /* ---- #PF ---- */
    pf_page[0x123] = 0x5A;
    mmu_map_4k(PF_VA, (uint64_t)(uintptr_t)pf_page, PTE_W);
    {
        uint8_t v = *(volatile uint8_t *)(uintptr_t)(PF_VA + 0x123);
        check("PF mapped-read", v == 0x5A, v, 0x5A);
    }
    mmu_unmap_4k(PF_VA);
    {
        uint64_t addr = PF_VA + 0x123, val = 0;
        __asm__ volatile(TRAP_ASM("movzbq (%1), %0") : "+r"(val) : "r"(addr) : "r11", "memory");
        check_trap("PF not-present-read", 14, 0, 0, 1, addr);

        __asm__ volatile(TRAP_ASM("movb $1, (%0)") : : "r"(addr) : "r11", "memory");
        check_trap("PF not-present-write", 14, 2, 0, 1, addr);
    }
    mmu_map_4k(PF_VA, (uint64_t)(uintptr_t)pf_page, 0);   /* read-only */
    {
        uint64_t addr = PF_VA + 0xFF8;
        uint8_t v = *(volatile uint8_t *)(uintptr_t)(PF_VA + 0x123);
        check("PF read-only-read", v == 0x5A, v, 0x5A);
        __asm__ volatile(TRAP_ASM("movq $7, (%0)") : : "r"(addr) : "r11", "memory");
        check_trap("PF read-only-write", 14, 3, 0, 1, addr);
        check("PF write-suppressed", pf_page[0xFF8] == 0, pf_page[0xFF8], 0);
    }

    /* ---- #GP ---- */
    {
        uint64_t addr = 0x0000800000000000ull, val = 0;
        __asm__ volatile(TRAP_ASM("mov (%1), %0") : "+r"(val) : "r"(addr) : "r11", "memory");
        check_trap("GP non-canonical-read", 13, 0, 0, 0, 0);

        addr = 0xFFFF7FFFFFFFF000ull;
        __asm__ volatile(TRAP_ASM("movl $1, (%0)") : : "r"(addr) : "r11", "memory");
        check_trap("GP non-canonical-write", 13, 0, 0, 0, 0);

        /* Selector 0x18 lies beyond the GDT limit: #GP(0x18). */
        __asm__ volatile("mov $0x18, %%eax\n\t" TRAP_ASM("mov %%eax, %%ds")
                         ::: "rax", "r11", "memory");
        check_trap("GP bad-selector", 13, 0x18, 0, 0, 0);
        uint16_t ds;
        __asm__ volatile("mov %%ds, %0" : "=r"(ds));
        check("GP ds-unchanged", ds == 0x10, ds, 0x10);
    }

    /* ---- software interrupt ---- */
    {
        uint64_t rax = 41, rbx = 1000;
        trap_hook = syscall_hook;
        __asm__ volatile(TRAP_ASM("int $0x80") : "+a"(rax) : "b"(rbx) : "r11", "memory");
        trap_hook = 0;
        check_trap("INT 0x80", 0x80, 0, 2, 0, 0);
        check("INT 0x80 result", rax == ~41ull + 1000, rax, ~41ull + 1000);
    }

    /* ---- RFLAGS is saved in the frame and restored by IRETQ ---- */
    {
        uint64_t before, after, saved;
        __asm__ volatile("pushfq; pop %0" : "=r"(before));
        __asm__ volatile(TRAP_ASM("int $0x81") ::: "r11", "memory");
        __asm__ volatile("pushfq; pop %0" : "=r"(after));
        saved = last_trap.frame.rflags;
        check_trap("INT 0x81", 0x81, 0, 2, 0, 0);
        check("RFLAGS saved+restored", before == after && saved == before, after, before);
    }

    if (failures) {
        printk("exceptions: %d of %d checks FAILED\n", failures, checks);
        exit_qemu(1);
    }
    printk("exceptions: all %d checks passed\n", checks);
    exit_qemu(0);
}
