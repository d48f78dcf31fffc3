/*
 * vmx-exits: a bare-metal guest hypervisor (Intel VT-x) that checks VM-exit *conditions*:
 * which guest instructions and events exit, which do not, and the exit information they
 * leave in the VMCS.
 *
 *   1. I/O bitmaps: OUT 0x80 (bit set in bitmap A) exits, OUT 0x81 does not; IN from 0x8001
 *      (bitmap B) exits; a 2-byte OUT at 0x7ffe (both bits clear) does not; a 2-byte OUT at
 *      0x7fff exits because port 0x8000 is bitmap B's bit 0; a 4-byte OUT at 0xfffe wraps to
 *      port 0 and exits although no bit is set; REP OUTSB reports string/REP, the guest-linear
 *      address and (IA32_VMX_BASIC[54]) the instruction information.  Bitmap B lies below
 *      bitmap A, and the page after bitmap A is all zero, so reading "A + 0x1000" instead of
 *      bitmap B for the 0x7fff/0x8000 access is caught.
 *   2. MSR bitmaps: the read bit of IA32_SYSENTER_CS (low range) and the write bit of
 *      IA32_KERNEL_GS_BASE (high range); RDMSR/WRMSR in each quadrant, and RDMSR of an MSR
 *      outside both ranges (always exits).
 *   3. Exception bitmap: #UD (bit 6) exits with interruption info 0x80000306.  #PF (bit 14)
 *      with PFEC mask 2 / match 2: only write faults exit (qualification = linear address,
 *      error code in the exit information, CR2 unchanged, the write suppressed); a read of a
 *      not-present page is delivered through the guest's IDT.  Then the same outcome with
 *      bit 14 clear and match 0 (a #PF exits when the error code does NOT match).
 *   4. CR0/CR4 guest/host masks and read shadows: CR4.VMXE owned by the host with shadow 0,
 *      CR0.CD and CR0.TS owned by the host with shadow 1: MOV from CR reads the shadow, MOV to
 *      CR exits only when a host-owned bit differs from the shadow, CLTS exits when TS is
 *      owned and its shadow is 1.  Non-exiting writes change only guest-owned bits.
 *   5. Event injection on VM entry: #GP with error code 0x1234 (type 3), INT 0x30 (type 4,
 *      length 2), #UD (type 3) although the exception bitmap intercepts #UD, INT3 (type 6,
 *      length 1).  The guest's handlers record vector, error code and the pushed RIP/CS and
 *      report with VMCALL.
 *
 * The guest runs with its own page tables (a copy of the host's identity map with 4 KiB pages
 * at 8 MiB: 0x800000 not present, 0x801000 read-only) and its own IDT (#UD, #BP, #GP, #PF,
 * INT 0x30).  Each test is a separate guest entry point; the exit handler logs every exit
 * (reason, qualification, interruption info, registers, ...), emulates or skips the exiting
 * instruction (for exceptions it resumes at the address the guest left in R11) and returns to
 * kmain on "VMCALL with RAX = 0".  kmain then checks the log.
 *
 * Each check prints "name: ok" or "name: FAIL (expected X, got Y)"; the last line is
 * "vmx-exits: N passed, M failed".  Nothing printed depends on addresses or capability values.
 */
#include "lib.h"
#include "idt.h"
#include "vmx.h"

/* ---- VMCS fields and control bits not in vmx.h ---- */
#define F_EXIT_INTR_ERROR_CODE  0x4406
#define F_IDT_VECTORING_INFO    0x4408
#define F_EXIT_INSTRUCTION_INFO 0x440E
#define F_GUEST_LINEAR_ADDRESS  0x640A

#define PROC_USE_IO_BITMAPS     (1u << 25)

#define EXIT_REASON_CR_ACCESS   28

#define CR0_TS                  (1ull << 3)
#define CR0_NW                  (1ull << 29)
#define CR0_CD                  (1ull << 30)
#define CR4_TSD                 (1ull << 2)

#define MSR_KERNEL_GS_BASE      0xC0000102u

/* Test pages (guest page tables): 0x800000 not present, 0x801000 read-only. */
#define NP_PAGE                 0x800000ull
#define RO_PAGE                 0x801000ull
#define RO_VALUE                0x11223344u

#define FAKE_MSR                0x5a5a000000000000ull   /* RDMSR exits return FAKE_MSR | ECX */
#define KGS_VALUE               0x0000123456789000ull   /* IA32_KERNEL_GS_BASE set by the host */
#define KGS_GUEST_WRITE         0x00007fff9abc0000ull   /* the guest's (intercepted) WRMSR */
#define GUEST_CR2_MARK          0xdead000ull

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[4096] __attribute__((aligned(4096)));
/* [0] = bitmap B, [1] = bitmap A, [2] = zero page right after bitmap A */
static uint8_t io_pages[3][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint64_t guest_pml4[512] __attribute__((aligned(4096)));
static uint64_t guest_pdpt[512] __attribute__((aligned(4096)));
static uint64_t guest_pd0[512] __attribute__((aligned(4096)));
static uint64_t guest_pt[512] __attribute__((aligned(4096)));
static uint64_t guest_idt[2 * 64] __attribute__((aligned(16)));
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
static uint8_t host_exit_stack[16384] __attribute__((aligned(16)));

#define IO_BITMAP_B_PAGE io_pages[0]
#define IO_BITMAP_A_PAGE io_pages[1]

/* ---- the guest ---- */
extern char guest_io[], io_out80[], io_out81[], io_in8001[], io_out7ffe[], io_out7fff[],
    io_outfffe[], io_outsb[], io_done[], io_buf[];
extern char guest_msr[], msr_wr174[], msr_rd174[], msr_rdkgs[], msr_wrkgs[], msr_rdkgs2[],
    msr_rd2000[], msr_done[];
extern char guest_exc[], exc_ud[], exc_wro[], exc_wnp[], exc_rro[], exc_rnp[], exc_done[];
extern char guest_exc2[], exc2_wro[], exc2_rnp[], exc2_done[];
extern char guest_cr[], cr_rd4[], cr_wr4_same[], cr_wr4_vmxe[], cr_rd0[], cr_wr0_same[],
    cr_wr0_cd[], cr_clts[], cr_done[];
extern char guest_inj[], gh_ud[], gh_bp[], gh_gp[], gh_pf[], gh_int30[], gh_vmcall[];
extern char guest_code_start[], guest_code_end[];

__asm__(
    "        .data\n"
    "io_buf: .byte 1, 2, 3, 4\n"
    "        .text\n"
    "        .align 16\n"
    "guest_code_start:\n"
    /* 1. I/O bitmaps */
    "guest_io:\n"
    "        movb    $0x5a, %al\n"
    "io_out80:\n"
    "        outb    %al, $0x80\n"           /* bitmap A bit 0x80: exit */
    "        xorl    %eax, %eax\n"
    "io_out81:\n"
    "        outb    %al, $0x81\n"           /* bit clear: no exit */
    "        movw    $0x8001, %dx\n"
    "        movl    $0xffffffff, %eax\n"
    "io_in8001:\n"
    "        inw     %dx, %ax\n"             /* bitmap B bit 1: exit, the host returns 0x4242 */
    "        movl    %eax, %r12d\n"
    "        movw    $0x7ffe, %dx\n"
    "io_out7ffe:\n"
    "        outw    %ax, %dx\n"             /* ports 0x7ffe, 0x7fff: bits clear, no exit */
    "        movw    $0x7fff, %dx\n"
    "io_out7fff:\n"
    "        outw    %ax, %dx\n"             /* ports 0x7fff, 0x8000: bitmap B bit 0, exit */
    "        movw    $0xfffe, %dx\n"
    "io_outfffe:\n"
    "        outl    %eax, %dx\n"            /* ports 0xfffe..0x0001 wrap around: exit */
    "        movw    $0x80, %dx\n"
    "        leaq    io_buf(%rip), %rsi\n"
    "        movl    $3, %ecx\n"
    "io_outsb:\n"
    "        rep outsb\n"                    /* string, REP, port 0x80: exit */
    "        xorl    %eax, %eax\n"
    "io_done:\n"
    "        vmcall\n"
    "        ud2\n"
    /* 2. MSR bitmaps */
    "        .align 16\n"
    "guest_msr:\n"
    "        movl    $0x174, %ecx\n"
    "        movl    $0x10, %eax\n"
    "        xorl    %edx, %edx\n"
    "msr_wr174:\n"
    "        wrmsr\n"                        /* write-low bit clear: no exit */
    "msr_rd174:\n"
    "        rdmsr\n"                        /* read-low bit set: exit */
    "        shlq    $32, %rdx\n"
    "        orq     %rdx, %rax\n"
    "        movq    %rax, %r12\n"
    "        movl    $0xc0000102, %ecx\n"
    "msr_rdkgs:\n"
    "        rdmsr\n"                        /* read-high bit clear: no exit */
    "        shlq    $32, %rdx\n"
    "        orq     %rdx, %rax\n"
    "        movq    %rax, %r13\n"
    "        movl    $0x9abc0000, %eax\n"
    "        movl    $0x7fff, %edx\n"
    "msr_wrkgs:\n"
    "        wrmsr\n"                        /* write-high bit set: exit */
    "msr_rdkgs2:\n"
    "        rdmsr\n"                        /* no exit: the intercepted write changed nothing */
    "        shlq    $32, %rdx\n"
    "        orq     %rdx, %rax\n"
    "        movq    %rax, %r14\n"
    "        movl    $0x2000, %ecx\n"
    "msr_rd2000:\n"
    "        rdmsr\n"                        /* outside both bitmap ranges: exit */
    "        shlq    $32, %rdx\n"
    "        orq     %rdx, %rax\n"
    "        movq    %rax, %r15\n"
    "        xorl    %eax, %eax\n"
    "msr_done:\n"
    "        vmcall\n"
    "        ud2\n"
    /* 3. Exception bitmap, #PF error-code mask/match.  R11 = where the host resumes the guest
     * after an exception exit (and where the guest's #PF handler returns to). */
    "        .align 16\n"
    "guest_exc:\n"
    "        leaq    1f(%rip), %r11\n"
    "exc_ud:\n"
    "        ud2\n"                          /* exit: #UD */
    "1:      movl    $0xdead000, %eax\n"
    "        movq    %rax, %cr2\n"
    "        leaq    1f(%rip), %r11\n"
    "exc_wro:\n"
    "        movl    $0x5a5a5a5a, 0x801008\n" /* write to the read-only page: #PF err 3, exit */
    "1:      leaq    1f(%rip), %r11\n"
    "exc_wnp:\n"
    "        movl    $0x5a5a5a5a, 0x800010\n" /* write to the not-present page: #PF err 2, exit */
    "1:      movq    %cr2, %r12\n"
    "exc_rro:\n"
    "        movl    0x801008, %r13d\n"      /* read of the read-only page: no fault */
    "        leaq    1f(%rip), %r11\n"
    "        movq    $-1, %r8\n"
    "        xorl    %r9d, %r9d\n"
    "        xorl    %r10d, %r10d\n"
    "exc_rnp:\n"
    "        movl    0x800020, %eax\n"       /* read of the not-present page: #PF err 0, guest IDT */
    "1:      xorl    %eax, %eax\n"
    "exc_done:\n"
    "        vmcall\n"
    "        ud2\n"
    "        .align 16\n"
    "guest_exc2:\n"
    "        leaq    1f(%rip), %r11\n"
    "exc2_wro:\n"
    "        movl    $0x5a5a5a5a, 0x801008\n"
    "1:      leaq    1f(%rip), %r11\n"
    "        movq    $-1, %r8\n"
    "        xorl    %r9d, %r9d\n"
    "        xorl    %r10d, %r10d\n"
    "exc2_rnp:\n"
    "        movl    0x800020, %eax\n"
    "1:      xorl    %eax, %eax\n"
    "exc2_done:\n"
    "        vmcall\n"
    "        ud2\n"
    /* 4. CR0/CR4 guest/host masks and read shadows */
    "        .align 16\n"
    "guest_cr:\n"
    "cr_rd4:\n"
    "        movq    %cr4, %r12\n"           /* VMXE from the shadow (0) */
    "        movq    %r12, %rax\n"
    "        orq     $4, %rax\n"             /* + TSD (guest-owned) */
    "cr_wr4_same:\n"
    "        movq    %rax, %cr4\n"           /* VMXE = shadow: no exit, TSD set */
    "        movq    %cr4, %r13\n"
    "        movq    %rax, %rbx\n"
    "        btsq    $13, %rbx\n"
    "cr_wr4_vmxe:\n"
    "        movq    %rbx, %cr4\n"           /* VMXE != shadow: exit */
    "cr_rd0:\n"
    "        movq    %cr0, %r14\n"           /* CD and TS from the shadow (1) */
    "        movq    %r14, %rcx\n"
    "cr_wr0_same:\n"
    "        movq    %rcx, %cr0\n"           /* CD, TS = shadow: no exit */
    "        btrq    $30, %rcx\n"
    "cr_wr0_cd:\n"
    "        movq    %rcx, %cr0\n"           /* CD != shadow: exit */
    "cr_clts:\n"
    "        clts\n"                         /* TS owned, shadow 1: exit */
    "        xorl    %eax, %eax\n"
    "cr_done:\n"
    "        vmcall\n"
    "        ud2\n"
    /* 5. Event injection: the entry RIP is never executed (HLT exits if it is) */
    "        .align 16\n"
    "guest_inj:\n"
    "        hlt\n"
    "        hlt\n"
    "        hlt\n"
    "        hlt\n"
    /* The guest's exception handlers.  Report: R8 error code, R9 vector, R10 pushed RIP,
     * R11 pushed CS. */
    "        .align 16\n"
    "gh_ud:\n"
    "        xorl    %r8d, %r8d\n"
    "        movl    $6, %r9d\n"
    "        jmp     gh_report\n"
    "gh_bp:\n"
    "        xorl    %r8d, %r8d\n"
    "        movl    $3, %r9d\n"
    "        jmp     gh_report\n"
    "gh_gp:\n"
    "        popq    %r8\n"
    "        movl    $13, %r9d\n"
    "        jmp     gh_report\n"
    "gh_int30:\n"
    "        xorl    %r8d, %r8d\n"
    "        movl    $0x30, %r9d\n"
    "gh_report:\n"
    "        movq    (%rsp), %r10\n"
    "        movq    8(%rsp), %r11\n"
    "        xorl    %eax, %eax\n"
    "gh_vmcall:\n"
    "        vmcall\n"
    "        ud2\n"
    /* #PF: R8 error code, R9 CR2, R10 faulting RIP; resume at R11 */
    "gh_pf:\n"
    "        popq    %r8\n"
    "        movq    %cr2, %r9\n"
    "        movq    (%rsp), %r10\n"
    "        movq    %r11, (%rsp)\n"
    "        iretq\n"
    "guest_code_end:\n");

/* ---- the exit log ---- */
#define MAX_EXITS 16
struct exit_rec {
    uint32_t reason, intr_info, intr_err, len, idt_info, instr_info;
    uint64_t qual, rip, gla;
    struct vmx_gprs r;          /* guest GPRs at the exit, before the handler changed them */
};
static struct exit_rec exit_log[MAX_EXITS];
static int n_exits;

int vmx_exit_handler(struct vmx_gprs *r)
{
    if (n_exits >= MAX_EXITS)
        return 0;
    struct exit_rec *e = &exit_log[n_exits++];
    e->reason = (uint32_t)vmr(VM_EXIT_REASON);
    e->qual = vmr(EXIT_QUALIFICATION);
    e->intr_info = (uint32_t)vmr(VM_EXIT_INTR_INFO);
    e->intr_err = (uint32_t)vmr(F_EXIT_INTR_ERROR_CODE);
    e->len = (uint32_t)vmr(VM_EXIT_INSTRUCTION_LEN);
    e->idt_info = (uint32_t)vmr(F_IDT_VECTORING_INFO);
    e->instr_info = (uint32_t)vmr(F_EXIT_INSTRUCTION_INFO);
    e->gla = vmr(F_GUEST_LINEAR_ADDRESS);
    e->rip = vmr(GUEST_RIP);
    e->r = *r;

    if (e->reason & EXIT_REASON_ENTRY_FAILURE)
        return 0;
    switch (e->reason & 0xFFFF) {
    case EXIT_REASON_EXCEPTION_NMI:
        /* R11 = the resume address, if the guest code set one; otherwise stop the run */
        if (r->r11 <= (uint64_t)(uintptr_t)guest_code_start || r->r11 >= (uint64_t)(uintptr_t)guest_code_end)
            return 0;
        vmwrite(GUEST_RIP, r->r11);     /* skip the faulting instruction */
        return 1;
    case EXIT_REASON_VMCALL:
        if (r->rax == 0)
            return 0;                   /* the guest is done */
        break;
    case EXIT_REASON_CR_ACCESS:         /* not emulated: just skipped */
    case EXIT_REASON_MSR_WRITE:         /* dropped */
        break;
    case EXIT_REASON_MSR_READ: {
        uint64_t v = FAKE_MSR | (uint32_t)r->rcx;
        r->rax = (uint32_t)v;
        r->rdx = v >> 32;
        break;
    }
    case EXIT_REASON_IO_INSTRUCTION:
        if ((e->qual & 0x18) == 0x08) { /* IN, not string: return 0x42 bytes */
            unsigned size = (unsigned)(e->qual & 7) + 1;
            if (size == 4)
                r->rax = 0x42424242;
            else if (size == 2)
                r->rax = (r->rax & ~0xFFFFull) | 0x4242;
            else
                r->rax = (r->rax & ~0xFFull) | 0x42;
        }
        break;
    default:
        return 0;
    }
    vmwrite(GUEST_RIP, e->rip + e->len);
    return 1;
}

/* ---- checks ---- */
static int passed, failed;

static void ok_line(const char *name)
{
    passed++;
    printk("%s: ok\n", name);
}

static void expect_hex(const char *name, uint64_t want, uint64_t got)
{
    if (want == got) {
        ok_line(name);
    } else {
        failed++;
        printk("%s: FAIL (expected 0x%lx, got 0x%lx)\n", name, want, got);
    }
}

static void expect_dec(const char *name, uint64_t want, uint64_t got)
{
    if (want == got) {
        ok_line(name);
    } else {
        failed++;
        printk("%s: FAIL (expected %lu, got %lu)\n", name, want, got);
    }
}

static void expect_yes(const char *name, int got)
{
    if (got) {
        ok_line(name);
    } else {
        failed++;
        printk("%s: FAIL (expected yes, got no)\n", name);
    }
}

static uint64_t off(const void *p, const void *base)
{
    return (uint64_t)(uintptr_t)p - (uint64_t)(uintptr_t)base;
}

static struct exit_rec *exit_at(const void *rip)
{
    for (int i = 0; i < n_exits; i++)
        if (exit_log[i].rip == (uint64_t)(uintptr_t)rip)
            return &exit_log[i];
    return 0;
}

/* "<what>: exit reason N": the guest instruction at rip must have exited with reason. */
static struct exit_rec *expect_exit(const char *what, const void *rip, uint32_t reason)
{
    struct exit_rec *e = exit_at(rip);
    passed += e && e->reason == reason;
    failed += !(e && e->reason == reason);
    if (e && e->reason == reason)
        printk("%s: exits: ok\n", what);
    else if (e)
        printk("%s: exits: FAIL (expected reason %u, got reason 0x%x)\n", what, reason, e->reason);
    else
        printk("%s: exits: FAIL (expected reason %u, got no exit)\n", what, reason);
    return e && e->reason == reason ? e : 0;
}

static void expect_no_exit(const char *what, const void *rip)
{
    struct exit_rec *e = exit_at(rip);
    if (!e) {
        passed++;
        printk("%s: no exit: ok\n", what);
    } else {
        failed++;
        printk("%s: no exit: FAIL (expected no exit, got reason 0x%x)\n", what, e->reason);
    }
}

/* Sub-check of an exit that happened (or a FAIL line if it did not). */
static void expect_field(const char *what, const char *field, struct exit_rec *e, uint64_t want,
                         uint64_t got)
{
    char name[128];
    size_t n = 0;
    for (const char *s = what; *s && n < sizeof(name) - 1; s++)
        name[n++] = *s;
    for (const char *s = ": "; *s && n < sizeof(name) - 1; s++)
        name[n++] = *s;
    for (const char *s = field; *s && n < sizeof(name) - 1; s++)
        name[n++] = *s;
    name[n] = 0;
    if (!e) {
        failed++;
        printk("%s: FAIL (expected 0x%lx, got no exit)\n", name, want);
        return;
    }
    expect_hex(name, want, got);
}

/* The run ended with the guest's final VMCALL at done_rip and had n exits in all.  Returns the
 * last exit (its registers hold the guest's results), or 0 if there was none. */
static struct exit_rec *expect_end(const char *what, const void *done_rip, int n)
{
    struct exit_rec *last = n_exits ? &exit_log[n_exits - 1] : 0;
    int ok = last && last->reason == EXIT_REASON_VMCALL && last->rip == (uint64_t)(uintptr_t)done_rip;
    const char *name = what;
    if (ok) {
        passed++;
        printk("%s: run ends with the final vmcall: ok\n", name);
    } else if (last) {
        failed++;
        printk("%s: run ends with the final vmcall: FAIL (expected reason 18 at the end, "
               "got reason 0x%x qualification 0x%lx)\n", name, last->reason, last->qual);
    } else {
        failed++;
        printk("%s: run ends with the final vmcall: FAIL (expected reason 18, got no exit)\n", name);
    }
    if (n_exits == n) {
        passed++;
        printk("%s: %d exits in all: ok\n", name, n);
    } else {
        failed++;
        printk("%s: %d exits in all: FAIL (expected %d, got %d)\n", name, n, n, n_exits);
        for (int i = 0; i < n_exits; i++)
            printk("  exit %d: reason 0x%x qualification 0x%lx interruption info 0x%x at guest+0x%lx\n",
                   i, exit_log[i].reason, exit_log[i].qual, exit_log[i].intr_info,
                   exit_log[i].rip - (uint64_t)(uintptr_t)guest_code_start);
    }
    /* The registers at the last exit, for the checks of the guest's results */
    return last;
}

/* ---- running the guest ---- */
static int launched;

static void run_guest(const void *entry, uint32_t inj_info, uint32_t inj_err, uint32_t inj_len)
{
    n_exits = 0;
    memset(exit_log, 0, sizeof(exit_log));
    vmwrite(GUEST_RIP, (uint64_t)(uintptr_t)entry);
    vmwrite(GUEST_RSP, (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack)));
    vmwrite(GUEST_RFLAGS, 0x2);
    vmwrite(VM_ENTRY_INTR_INFO, inj_info);
    vmwrite(VM_ENTRY_EXCEPTION_ERROR_CODE, inj_err);
    vmwrite(VM_ENTRY_INSTRUCTION_LEN, inj_len);
    int st = vmx_run(!launched);
    if (st != 0) {
        failed++;
        printk("vm entry: FAIL (expected an entry, got %s%s, instruction error %u)\n",
               st & VMX_RESUME_FAILED ? "vmresume " : launched ? "vmresume " : "vmlaunch ",
               (st & 0xF) == VMX_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid",
               vmx_instruction_error());
        return;
    }
    if (n_exits && !(exit_log[0].reason & EXIT_REASON_ENTRY_FAILURE))
        launched = 1;
}

static void set_gate(int vec, const void *handler)
{
    uint64_t a = (uint64_t)(uintptr_t)handler;
    guest_idt[2 * vec] = (a & 0xFFFF) | ((uint64_t)VMX_SEL_CODE << 16) | (0x8Eull << 40) |
                         (((a >> 16) & 0xFFFF) << 48);
    guest_idt[2 * vec + 1] = a >> 32;
}

static void __attribute__((noreturn)) finish(void)
{
    printk("vmx-exits: %d passed, %d failed\n", passed, failed);
    bochs_shutdown();
    exit_qemu(failed ? 1 : 0);
}

/* ---- the tests ---- */
static void test_io(void)
{
    struct exit_rec *e;
    puts("-- I/O bitmaps\n");
    run_guest(guest_io, 0, 0, 0);

    e = expect_exit("io out 0x80 imm8", io_out80, EXIT_REASON_IO_INSTRUCTION);
    expect_field("io out 0x80 imm8", "qualification (port 0x80, size 1, out, imm)", e, 0x00800040,
                 e ? e->qual : 0);
    expect_field("io out 0x80 imm8", "instruction length", e, 2, e ? e->len : 0);
    expect_field("io out 0x80 imm8", "al", e, 0x5a, e ? e->r.rax & 0xFF : 0);

    expect_no_exit("io out 0x81 imm8 (bit clear)", io_out81);

    e = expect_exit("io in 0x8001 dx 16-bit (bitmap b)", io_in8001, EXIT_REASON_IO_INSTRUCTION);
    expect_field("io in 0x8001 dx 16-bit (bitmap b)", "qualification (port 0x8001, size 2, in, dx)",
                 e, 0x80010009, e ? e->qual : 0);
    expect_field("io in 0x8001 dx 16-bit (bitmap b)", "instruction length", e, 2, e ? e->len : 0);

    expect_no_exit("io out 0x7ffe dx 16-bit (bits 0x7ffe, 0x7fff clear)", io_out7ffe);

    e = expect_exit("io out 0x7fff dx 16-bit (straddles into bitmap b bit 0)", io_out7fff,
                    EXIT_REASON_IO_INSTRUCTION);
    expect_field("io out 0x7fff dx 16-bit (straddles into bitmap b bit 0)",
                 "qualification (port 0x7fff, size 2, out, dx)", e, 0x7fff0001, e ? e->qual : 0);
    expect_field("io out 0x7fff dx 16-bit (straddles into bitmap b bit 0)", "instruction length", e, 2,
                 e ? e->len : 0);

    e = expect_exit("io out 0xfffe dx 32-bit (wraps to port 0)", io_outfffe, EXIT_REASON_IO_INSTRUCTION);
    expect_field("io out 0xfffe dx 32-bit (wraps to port 0)", "qualification (port 0xfffe, size 4, out, dx)",
                 e, 0xfffe0003, e ? e->qual : 0);
    expect_field("io out 0xfffe dx 32-bit (wraps to port 0)", "instruction length", e, 1, e ? e->len : 0);

    e = expect_exit("io rep outsb dx=0x80", io_outsb, EXIT_REASON_IO_INSTRUCTION);
    expect_field("io rep outsb dx=0x80", "qualification (port 0x80, size 1, out, string, rep, dx)", e,
                 0x00800030, e ? e->qual : 0);
    expect_field("io rep outsb dx=0x80", "instruction length", e, 2, e ? e->len : 0);
    expect_field("io rep outsb dx=0x80", "guest-linear address - rsi", e, 0, e ? e->gla - e->r.rsi : 0);
    expect_field("io rep outsb dx=0x80", "rcx (no iteration before the exit)", e, 3, e ? e->r.rcx : 0);
    {
        /* IA32_VMX_BASIC[54]: INS/OUTS exits report the instruction information:
         * address size (bits 9:7, 2 = 64-bit) and segment (bits 17:15, 3 = DS). */
        int has_info = (rdmsr(MSR_IA32_VMX_BASIC) >> 54) & 1;
        uint32_t want = (2u << 7) | (3u << 15);
        uint32_t got = e ? e->instr_info & ((7u << 7) | (7u << 15)) : 0;
        expect_field("io rep outsb dx=0x80", "instruction information (if vmx_basic[54]: a64, ds)", e,
                     want, has_info ? got : want);
    }

    e = expect_end("io", io_done, 6);
    expect_field("io in 0x8001", "guest eax after the emulated in", e, 0xffff4242,
                 e ? e->r.r12 & 0xFFFFFFFF : 0);
}

static void test_msr(void)
{
    struct exit_rec *e;
    puts("-- MSR bitmaps\n");
    wrmsr(MSR_KERNEL_GS_BASE, KGS_VALUE);
    run_guest(guest_msr, 0, 0, 0);

    expect_no_exit("wrmsr 0x174 (write-low bit clear)", msr_wr174);
    e = expect_exit("rdmsr 0x174 (read-low bit set)", msr_rd174, EXIT_REASON_MSR_READ);
    expect_field("rdmsr 0x174 (read-low bit set)", "ecx", e, 0x174, e ? e->r.rcx & 0xFFFFFFFF : 0);
    expect_field("rdmsr 0x174 (read-low bit set)", "instruction length", e, 2, e ? e->len : 0);
    expect_no_exit("rdmsr 0xc0000102 (read-high bit clear)", msr_rdkgs);
    e = expect_exit("wrmsr 0xc0000102 (write-high bit set)", msr_wrkgs, EXIT_REASON_MSR_WRITE);
    expect_field("wrmsr 0xc0000102 (write-high bit set)", "ecx", e, MSR_KERNEL_GS_BASE,
                 e ? e->r.rcx & 0xFFFFFFFF : 0);
    expect_field("wrmsr 0xc0000102 (write-high bit set)", "edx:eax", e, KGS_GUEST_WRITE,
                 e ? ((e->r.rdx & 0xFFFFFFFF) << 32) | (e->r.rax & 0xFFFFFFFF) : 0);
    expect_no_exit("rdmsr 0xc0000102 after the intercepted write", msr_rdkgs2);
    e = expect_exit("rdmsr 0x2000 (outside the bitmap ranges)", msr_rd2000, EXIT_REASON_MSR_READ);
    expect_field("rdmsr 0x2000 (outside the bitmap ranges)", "ecx", e, 0x2000,
                 e ? e->r.rcx & 0xFFFFFFFF : 0);

    e = expect_end("msr", msr_done, 4);
    expect_field("guest rdmsr 0x174", "value from the exit handler", e, FAKE_MSR | 0x174, e ? e->r.r12 : 0);
    expect_field("guest rdmsr 0xc0000102", "real value (set by the host)", e, KGS_VALUE, e ? e->r.r13 : 0);
    expect_field("guest rdmsr 0xc0000102 after its wrmsr", "unchanged", e, KGS_VALUE, e ? e->r.r14 : 0);
    expect_field("guest rdmsr 0x2000", "value from the exit handler", e, FAKE_MSR | 0x2000,
                 e ? e->r.r15 : 0);
    expect_hex("vmcs guest sysenter_cs after the non-exiting wrmsr", 0x10, vmr(GUEST_SYSENTER_CS));
    expect_hex("host sysenter_cs after the exits (from host_sysenter_cs)", 0, rdmsr(MSR_IA32_SYSENTER_CS));
    expect_hex("host kernel_gs_base after the intercepted wrmsr", KGS_VALUE, rdmsr(MSR_KERNEL_GS_BASE));
}

static void check_pf_exit(const char *what, struct exit_rec *e, uint32_t err, uint64_t addr)
{
    expect_field(what, "interruption info (valid, hw exception, error code, vector 14)", e, 0x80000b0e,
                 e ? e->intr_info : 0);
    expect_field(what, "interruption error code", e, err, e ? e->intr_err : 0);
    expect_field(what, "qualification (linear address)", e, addr, e ? e->qual : 0);
    expect_field(what, "idt-vectoring info not valid", e, 0, e ? e->idt_info >> 31 : 0);
}

static void test_exceptions(void)
{
    struct exit_rec *e;
    puts("-- exception bitmap (#UD; #PF with error-code mask 2 match 2)\n");
    *(volatile uint32_t *)(uintptr_t)(RO_PAGE + 8) = RO_VALUE;
    *(volatile uint32_t *)(uintptr_t)(NP_PAGE + 0x10) = 0;
    run_guest(guest_exc, 0, 0, 0);

    e = expect_exit("ud2", exc_ud, EXIT_REASON_EXCEPTION_NMI);
    expect_field("ud2", "interruption info (valid, hw exception, vector 6)", e, 0x80000306,
                 e ? e->intr_info : 0);
    expect_field("ud2", "idt-vectoring info not valid", e, 0, e ? e->idt_info >> 31 : 0);

    e = expect_exit("write to a read-only page (#PF err 3 matches)", exc_wro, EXIT_REASON_EXCEPTION_NMI);
    check_pf_exit("write to a read-only page (#PF err 3 matches)", e, 3, RO_PAGE + 8);
    expect_hex("write to a read-only page: write suppressed", RO_VALUE,
               *(volatile uint32_t *)(uintptr_t)(RO_PAGE + 8));

    e = expect_exit("write to a not-present page (#PF err 2 matches)", exc_wnp, EXIT_REASON_EXCEPTION_NMI);
    check_pf_exit("write to a not-present page (#PF err 2 matches)", e, 2, NP_PAGE + 0x10);
    expect_hex("write to a not-present page: write suppressed", 0,
               *(volatile uint32_t *)(uintptr_t)(NP_PAGE + 0x10));

    expect_no_exit("read of the read-only page", exc_rro);
    expect_no_exit("read of a not-present page (#PF err 0 does not match)", exc_rnp);

    e = expect_end("exceptions", exc_done, 4);
    expect_field("guest cr2 after the #PF exits", "unchanged", e, GUEST_CR2_MARK, e ? e->r.r12 : 0);
    expect_field("guest read of the read-only page", "value", e, RO_VALUE, e ? e->r.r13 & 0xFFFFFFFF : 0);
    expect_field("guest #PF handler (read of a not-present page)", "error code", e, 0, e ? e->r.r8 : 0);
    expect_field("guest #PF handler (read of a not-present page)", "cr2", e, NP_PAGE + 0x20, e ? e->r.r9 : 0);
    expect_field("guest #PF handler (read of a not-present page)", "pushed rip - faulting instruction", e, 0,
                 e ? e->r.r10 - (uint64_t)(uintptr_t)exc_rnp : 0);

    /* Bit 14 clear: a #PF exits iff (error code & mask) != match.  mask 2, match 0: write
     * faults (err & 2 = 2) exit, read faults do not -- the same outcome as above. */
    puts("-- #PF with exception bitmap bit 14 clear, mask 2 match 0\n");
    vmwrite(EXCEPTION_BITMAP, 1u << 6);
    vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 2);
    vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
    run_guest(guest_exc2, 0, 0, 0);
    e = expect_exit("bit 14 clear: write to a read-only page (err 3 does not match)", exc2_wro,
                    EXIT_REASON_EXCEPTION_NMI);
    expect_field("bit 14 clear: write to a read-only page (err 3 does not match)", "interruption error code",
                 e, 3, e ? e->intr_err : 0);
    expect_no_exit("bit 14 clear: read of a not-present page (err 0 matches)", exc2_rnp);
    e = expect_end("exceptions, bit 14 clear", exc2_done, 2);
    expect_field("bit 14 clear: guest #PF handler", "error code", e, 0, e ? e->r.r8 : 0);
    expect_field("bit 14 clear: guest #PF handler", "cr2", e, NP_PAGE + 0x20, e ? e->r.r9 : 0);

    vmwrite(EXCEPTION_BITMAP, (1u << 6) | (1u << 14));
    vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 2);
    vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 2);
}

static void test_cr(void)
{
    struct exit_rec *e;
    uint64_t gcr0 = vmr(GUEST_CR0), gcr4 = vmr(GUEST_CR4);
    puts("-- CR0/CR4 guest/host masks and read shadows\n");
    vmwrite(CR4_GUEST_HOST_MASK, CR4_VMXE);
    vmwrite(CR4_READ_SHADOW, gcr4 & ~CR4_VMXE);
    vmwrite(CR0_GUEST_HOST_MASK, CR0_CD | CR0_TS);
    vmwrite(CR0_READ_SHADOW, gcr0 | CR0_CD | CR0_TS);
    run_guest(guest_cr, 0, 0, 0);

    expect_no_exit("mov from cr4", cr_rd4);
    expect_no_exit("mov to cr4 with vmxe = shadow (0), tsd set", cr_wr4_same);
    e = expect_exit("mov to cr4 with vmxe=1 (differs from the shadow)", cr_wr4_vmxe, EXIT_REASON_CR_ACCESS);
    expect_field("mov to cr4 with vmxe=1 (differs from the shadow)", "qualification (cr4, mov to cr, rbx)", e,
                 0x304, e ? e->qual : 0);
    expect_field("mov to cr4 with vmxe=1 (differs from the shadow)", "instruction length", e, 3,
                 e ? e->len : 0);
    expect_no_exit("mov from cr0", cr_rd0);
    expect_no_exit("mov to cr0 with cd, ts = shadow (1)", cr_wr0_same);
    e = expect_exit("mov to cr0 with cd=0 (differs from the shadow)", cr_wr0_cd, EXIT_REASON_CR_ACCESS);
    expect_field("mov to cr0 with cd=0 (differs from the shadow)", "qualification (cr0, mov to cr, rcx)", e,
                 0x100, e ? e->qual : 0);
    expect_field("mov to cr0 with cd=0 (differs from the shadow)", "instruction length", e, 3,
                 e ? e->len : 0);
    e = expect_exit("clts with ts owned and shadow ts=1", cr_clts, EXIT_REASON_CR_ACCESS);
    expect_field("clts with ts owned and shadow ts=1", "qualification (cr0, clts)", e, 0x20,
                 e ? e->qual : 0);
    expect_field("clts with ts owned and shadow ts=1", "instruction length", e, 2, e ? e->len : 0);

    e = expect_end("cr", cr_done, 4);
    expect_field("guest mov from cr4", "vmxe from the shadow, rest real", e, gcr4 & ~CR4_VMXE,
                 e ? e->r.r12 : 0);
    expect_field("guest mov from cr4 after the non-exiting write", "tsd set, vmxe from the shadow", e,
                 (gcr4 | CR4_TSD) & ~CR4_VMXE, e ? e->r.r13 : 0);
    expect_field("guest mov from cr0", "cd, ts from the shadow, rest real", e, gcr0 | CR0_CD | CR0_TS,
                 e ? e->r.r14 : 0);
    expect_hex("vmcs guest cr4: tsd set by the guest, vmxe kept", gcr4 | CR4_TSD, vmr(GUEST_CR4));
    expect_hex("vmcs guest cr0: cd, ts unchanged (host-owned)", gcr0, vmr(GUEST_CR0));

    vmwrite(CR4_GUEST_HOST_MASK, 0);
    vmwrite(CR0_GUEST_HOST_MASK, 0);
    vmwrite(CR4_READ_SHADOW, gcr4);
    vmwrite(CR0_READ_SHADOW, gcr0);
    vmwrite(GUEST_CR4, gcr4);
    vmwrite(GUEST_CR0, gcr0);
}

static void check_injection(const char *what, uint32_t vector, uint32_t err, uint64_t rip_delta)
{
    struct exit_rec *e = expect_end(what, gh_vmcall, 1);
    expect_field(what, "guest handler vector", e, vector, e ? e->r.r9 : 0);
    expect_field(what, "error code", e, err, e ? e->r.r8 : 0);
    expect_field(what, "pushed rip - guest_rip", e, rip_delta, e ? off((void *)(uintptr_t)e->r.r10, guest_inj) : 0);
    expect_field(what, "pushed cs", e, VMX_SEL_CODE, e ? e->r.r11 : 0);
    expect_field(what, "entry interruption info valid bit cleared by the exit", e, 0,
                 e ? vmr(VM_ENTRY_INTR_INFO) >> 31 : 0);
}

static void test_injection(void)
{
    puts("-- event injection\n");
    run_guest(guest_inj, 0x80000b0d, 0x1234, 0);        /* #GP, hw exception, error code */
    check_injection("inject #GP(0x1234)", 13, 0x1234, 0);
    run_guest(guest_inj, 0x80000430, 0, 2);             /* INT 0x30, software interrupt */
    check_injection("inject int 0x30 (length 2)", 0x30, 0, 2);
    run_guest(guest_inj, 0x80000306, 0, 0);             /* #UD, hw exception, bitmap bit 6 set */
    check_injection("inject #UD (exception bitmap not consulted)", 6, 0, 0);
    run_guest(guest_inj, 0x80000603, 0, 1);             /* #BP, software exception */
    check_injection("inject int3 (software exception, length 1)", 3, 0, 1);
}

/* ---- set-up ---- */
static void build_guest_tables(void)
{
    /* Copy of the host's identity map (2 MiB pages) with 4 KiB pages for 8..10 MiB */
    memset(guest_pml4, 0, sizeof(guest_pml4));
    memset(guest_pdpt, 0, sizeof(guest_pdpt));
    guest_pml4[0] = (uint64_t)(uintptr_t)guest_pdpt | 3;
    guest_pdpt[0] = (uint64_t)(uintptr_t)guest_pd0 | 3;
    for (int i = 1; i < 4; i++)
        guest_pdpt[i] = (uint64_t)(uintptr_t)&pd[512 * i] | 3;
    for (int i = 0; i < 512; i++)
        guest_pd0[i] = pd[i];
    guest_pd0[NP_PAGE >> 21] = (uint64_t)(uintptr_t)guest_pt | 3;
    for (int i = 0; i < 512; i++)
        guest_pt[i] = (NP_PAGE + 4096ull * (uint64_t)i) | 3;
    guest_pt[(NP_PAGE >> 12) & 511] = 0;                        /* not present */
    guest_pt[(RO_PAGE >> 12) & 511] = RO_PAGE | 1;              /* present, read-only */

    memset(guest_idt, 0, sizeof(guest_idt));
    set_gate(3, gh_bp);
    set_gate(6, gh_ud);
    set_gate(13, gh_gp);
    set_gate(14, gh_pf);
    set_gate(0x30, gh_int30);
}

void kmain(uint32_t magic, uint32_t mbinfo)
{
    uint32_t a, b, c, d;
    int st;

    puts("vmx-exits: start\n");
    idt_init();
    trap_reset();
    trap_hook = vmx_trap_hook;

    cpuid(1, 0, &a, &b, &c, &d);
    expect_yes("cpuid: vmx supported", (c >> 5) & 1);
    if (!((c >> 5) & 1))
        finish();
    expect_yes("feature control: vmx outside smx enabled", vmx_feature_control());
    vmx_fix_cr0_cr4(1);
    vmx_setup_gdt_tss();

    uint32_t rev = vmx_revision();
    *(uint32_t *)vmxon_region = rev;
    *(uint32_t *)vmcs_region = rev;
    st = vmxon((uint64_t)(uintptr_t)vmxon_region);
    expect_yes("vmxon", st == VMX_OK);
    if (st != VMX_OK)
        finish();
    uint64_t vmcs_pa = (uint64_t)(uintptr_t)vmcs_region;
    st = vmclear(vmcs_pa);
    expect_yes("vmclear", st == VMX_OK);
    st = vmptrld(vmcs_pa);
    expect_yes("vmptrld", st == VMX_OK);

    uint32_t want_proc = PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS;
    struct vmx_config cfg;
    cfg.pin = vmx_adjust_ctl(0, vmx_ctl_msr(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS));
    cfg.proc = vmx_adjust_ctl(want_proc,
                              vmx_ctl_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS));
    cfg.proc &= ~PROC_UNCOND_IO_EXITING;
    cfg.proc2 = 0;
    cfg.exit = vmx_adjust_ctl(EXIT_HOST_ADDR_SPACE_SIZE,
                              vmx_ctl_msr(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS));
    cfg.entry = vmx_adjust_ctl(ENTRY_IA32E_MODE_GUEST,
                               vmx_ctl_msr(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS));
    expect_yes("controls: hlt exiting, i/o bitmaps, msr bitmaps", (cfg.proc & want_proc) == want_proc);
    if ((cfg.proc & want_proc) != want_proc)
        finish();

    /* I/O bitmaps: A bit 0x80; B bits 0x8000 and 0x8001 */
    memset(io_pages, 0, sizeof(io_pages));
    IO_BITMAP_A_PAGE[0x80 / 8] |= 1u << (0x80 % 8);
    IO_BITMAP_B_PAGE[0] |= 1u << 0;
    IO_BITMAP_B_PAGE[0] |= 1u << 1;

    /* MSR bitmap: read-low 0x000, read-high 0x400, write-low 0x800, write-high 0xc00 */
    memset(msr_bitmap, 0, sizeof(msr_bitmap));
    msr_bitmap[0x000 + 0x174 / 8] |= 1u << (0x174 % 8);
    msr_bitmap[0xC00 + 0x102 / 8] |= 1u << (0x102 % 8);
    cfg.msr_bitmap = (uint64_t)(uintptr_t)msr_bitmap;

    build_guest_tables();
    cfg.guest_rip = (uint64_t)(uintptr_t)guest_io;
    cfg.guest_rsp = (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack));
    cfg.host_rsp = (uint64_t)(uintptr_t)(host_exit_stack + sizeof(host_exit_stack));
    int bad = vmx_write_vmcs(&cfg);
    uint64_t gcr0 = read_cr0() & ~(CR0_CD | CR0_NW | CR0_TS);
    bad += vmwrite(GUEST_CR0, gcr0) != VMX_OK;
    bad += vmwrite(CR0_READ_SHADOW, gcr0) != VMX_OK;
    bad += vmwrite(GUEST_CR3, (uint64_t)(uintptr_t)guest_pml4) != VMX_OK;
    bad += vmwrite(GUEST_IDTR_BASE, (uint64_t)(uintptr_t)guest_idt) != VMX_OK;
    bad += vmwrite(GUEST_IDTR_LIMIT, sizeof(guest_idt) - 1) != VMX_OK;
    bad += vmwrite(IO_BITMAP_A, (uint64_t)(uintptr_t)IO_BITMAP_A_PAGE) != VMX_OK;
    bad += vmwrite(IO_BITMAP_B, (uint64_t)(uintptr_t)IO_BITMAP_B_PAGE) != VMX_OK;
    bad += vmwrite(EXCEPTION_BITMAP, (1u << 6) | (1u << 14)) != VMX_OK;
    bad += vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 2) != VMX_OK;
    bad += vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 2) != VMX_OK;
    expect_dec("vmcs: written (failed vmwrites)", 0, (uint64_t)bad);

    test_io();
    test_msr();
    test_exceptions();
    test_cr();
    test_injection();

    st = vmclear(vmcs_pa);
    expect_yes("vmclear", st == VMX_OK);
    st = vmxoff();
    expect_yes("vmxoff", st == VMX_OK);
    finish();
}
