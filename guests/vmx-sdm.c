/*
 * sdm-hv: a small VT-x guest hypervisor written only from the Intel SDM
 * (Vol. 3C, chapters 23-27 and appendices A/B/C) and the "5 days to
 * virtualization" style tutorials.  It does not share any code with the
 * other vmx-* guests.
 *
 * Host (VMX root, this file's C code):
 *   - CPUID.1:ECX.VMX[5], IA32_FEATURE_CONTROL (locked here if unlocked),
 *     IA32_VMX_BASIC (revision id, region size, memory type, TRUE controls),
 *     CR0/CR4 adjusted with IA32_VMX_CR{0,4}_FIXED{0,1}, VMXON, VMCLEAR,
 *     VMPTRLD, VMPTRST.
 *   - Every control word is computed with adjust(): bits the capability
 *     MSR requires (allowed-0, low dword) are forced on, then the result is
 *     masked with the allowed-1 settings (high dword).
 *   - Its own GDT with a 64-bit TSS (host TR must not be 0).
 * Guest (VMX non-root, hand-written assembly, copied to GUEST_BASE):
 *   - its own GDT (code 0x28, data 0x30, TSS 0x38) and its own stack;
 *   - CPUID 0, CPUID 0x40000000, MOV from CR4/CR0 (shadowed), RDMSR EFER
 *     (no exit), WRMSR SYSENTER_ESP (exits), RDMSR SYSENTER_ESP (no exit),
 *     SGDT (exits if descriptor-table exiting was granted), CALL/RET on its
 *     own stack, HLT (exits; end of test).
 *
 * The output contains only values that are the same on every correct
 * implementation.  Guest RIPs are printed as guest+offset.
 */
#include "lib.h"
#include "idt.h"

/* ------------------------------------------------------------------ */
/* MSRs (SDM Vol. 4 / Vol. 3D appendix A)                              */
#define MSR_IA32_FEATURE_CONTROL   0x03A
#define MSR_IA32_SYSENTER_CS       0x174
#define MSR_IA32_SYSENTER_ESP      0x175
#define MSR_IA32_SYSENTER_EIP      0x176
#define MSR_IA32_PAT               0x277
#define MSR_IA32_VMX_BASIC         0x480
#define MSR_IA32_VMX_PINBASED      0x481
#define MSR_IA32_VMX_PROCBASED     0x482
#define MSR_IA32_VMX_EXIT          0x483
#define MSR_IA32_VMX_ENTRY         0x484
#define MSR_IA32_VMX_CR0_FIXED0    0x486
#define MSR_IA32_VMX_CR0_FIXED1    0x487
#define MSR_IA32_VMX_CR4_FIXED0    0x488
#define MSR_IA32_VMX_CR4_FIXED1    0x489
#define MSR_IA32_VMX_PROCBASED2    0x48B
#define MSR_IA32_VMX_TRUE_PINBASED 0x48D
#define MSR_IA32_VMX_TRUE_PROCBASED 0x48E
#define MSR_IA32_VMX_TRUE_EXIT     0x48F
#define MSR_IA32_VMX_TRUE_ENTRY    0x490
#define MSR_IA32_EFER              0xC0000080
#define MSR_IA32_FS_BASE           0xC0000100
#define MSR_IA32_GS_BASE           0xC0000101

#define FC_LOCK             (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)

#define CR0_PE (1ull << 0)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE  (1ull << 5)
#define CR4_VMXE (1ull << 13)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* ------------------------------------------------------------------ */
/* VMCS field encodings (SDM Vol. 3D appendix B)                       */
enum {
    /* 16-bit guest state */
    G_ES_SEL = 0x0800, G_CS_SEL = 0x0802, G_SS_SEL = 0x0804, G_DS_SEL = 0x0806,
    G_FS_SEL = 0x0808, G_GS_SEL = 0x080A, G_LDTR_SEL = 0x080C, G_TR_SEL = 0x080E,
    /* 16-bit host state */
    H_ES_SEL = 0x0C00, H_CS_SEL = 0x0C02, H_SS_SEL = 0x0C04, H_DS_SEL = 0x0C06,
    H_FS_SEL = 0x0C08, H_GS_SEL = 0x0C0A, H_TR_SEL = 0x0C0C,
    /* 64-bit control */
    C_MSR_BITMAP = 0x2004, C_EXIT_MSR_STORE = 0x2006, C_EXIT_MSR_LOAD = 0x2008,
    C_ENTRY_MSR_LOAD = 0x200A, C_TSC_OFFSET = 0x2010,
    /* 64-bit guest state */
    G_LINK_PTR = 0x2800, G_DEBUGCTL = 0x2802, G_PAT = 0x2804, G_EFER = 0x2806,
    /* 64-bit host state */
    H_PAT = 0x2C00, H_EFER = 0x2C02,
    /* 32-bit control */
    C_PIN = 0x4000, C_PROC = 0x4002, C_EXC_BITMAP = 0x4004, C_PFEC_MASK = 0x4006,
    C_PFEC_MATCH = 0x4008, C_CR3_TARGET_COUNT = 0x400A, C_EXIT = 0x400C,
    C_EXIT_MSR_STORE_COUNT = 0x400E, C_EXIT_MSR_LOAD_COUNT = 0x4010,
    C_ENTRY = 0x4012, C_ENTRY_MSR_LOAD_COUNT = 0x4014, C_ENTRY_INTR_INFO = 0x4016,
    C_ENTRY_EXC_ERR = 0x4018, C_ENTRY_INSN_LEN = 0x401A, C_PROC2 = 0x401E,
    /* 32-bit read-only data */
    R_VM_INSN_ERROR = 0x4400, R_EXIT_REASON = 0x4402, R_EXIT_INTR_INFO = 0x4404,
    R_EXIT_INTR_ERR = 0x4406, R_IDT_VEC_INFO = 0x4408, R_EXIT_INSN_LEN = 0x440C,
    R_EXIT_INSN_INFO = 0x440E,
    /* 32-bit guest state */
    G_ES_LIMIT = 0x4800, G_CS_LIMIT = 0x4802, G_SS_LIMIT = 0x4804, G_DS_LIMIT = 0x4806,
    G_FS_LIMIT = 0x4808, G_GS_LIMIT = 0x480A, G_LDTR_LIMIT = 0x480C, G_TR_LIMIT = 0x480E,
    G_GDTR_LIMIT = 0x4810, G_IDTR_LIMIT = 0x4812,
    G_ES_AR = 0x4814, G_CS_AR = 0x4816, G_SS_AR = 0x4818, G_DS_AR = 0x481A,
    G_FS_AR = 0x481C, G_GS_AR = 0x481E, G_LDTR_AR = 0x4820, G_TR_AR = 0x4822,
    G_INTERRUPTIBILITY = 0x4824, G_ACTIVITY = 0x4826, G_SYSENTER_CS = 0x482A,
    /* 32-bit host state */
    H_SYSENTER_CS = 0x4C00,
    /* natural-width control */
    C_CR0_MASK = 0x6000, C_CR4_MASK = 0x6002, C_CR0_SHADOW = 0x6004, C_CR4_SHADOW = 0x6006,
    /* natural-width read-only data */
    R_EXIT_QUAL = 0x6400,
    /* natural-width guest state */
    G_CR0 = 0x6800, G_CR3 = 0x6802, G_CR4 = 0x6804,
    G_ES_BASE = 0x6806, G_CS_BASE = 0x6808, G_SS_BASE = 0x680A, G_DS_BASE = 0x680C,
    G_FS_BASE = 0x680E, G_GS_BASE = 0x6810, G_LDTR_BASE = 0x6812, G_TR_BASE = 0x6814,
    G_GDTR_BASE = 0x6816, G_IDTR_BASE = 0x6818, G_DR7 = 0x681A, G_RSP = 0x681C,
    G_RIP = 0x681E, G_RFLAGS = 0x6820, G_PENDING_DBG = 0x6822,
    G_SYSENTER_ESP = 0x6824, G_SYSENTER_EIP = 0x6826,
    /* natural-width host state */
    H_CR0 = 0x6C00, H_CR3 = 0x6C02, H_CR4 = 0x6C04, H_FS_BASE = 0x6C06, H_GS_BASE = 0x6C08,
    H_TR_BASE = 0x6C0A, H_GDTR_BASE = 0x6C0C, H_IDTR_BASE = 0x6C0E,
    H_SYSENTER_ESP = 0x6C10, H_SYSENTER_EIP = 0x6C12, H_RSP = 0x6C14, H_RIP = 0x6C16,
};

/* Control bits (SDM Vol. 3C 24.6 - 24.8) */
#define PROC_HLT_EXITING        (1u << 7)
#define PROC_CR3_LOAD_EXITING   (1u << 15)
#define PROC_CR3_STORE_EXITING  (1u << 16)
#define PROC_USE_MSR_BITMAPS    (1u << 28)
#define PROC_ACTIVATE_SECONDARY (1u << 31)
#define PROC2_DESC_TABLE_EXITING (1u << 2)
#define EXIT_HOST_ADDR_SPACE    (1u << 9)
#define EXIT_LOAD_PAT           (1u << 19)
#define EXIT_SAVE_EFER          (1u << 20)
#define EXIT_LOAD_EFER          (1u << 21)
#define ENTRY_IA32E_GUEST       (1u << 9)
#define ENTRY_LOAD_EFER         (1u << 15)

/* Basic exit reasons (SDM Vol. 3C appendix C) */
#define EXIT_REASON_EXCEPTION   0
#define EXIT_REASON_TRIPLE      2
#define EXIT_REASON_CPUID       10
#define EXIT_REASON_HLT         12
#define EXIT_REASON_RDMSR       31
#define EXIT_REASON_WRMSR       32
#define EXIT_REASON_BAD_GUEST   33
#define EXIT_REASON_GDTR_IDTR   46

static const char *exit_name(uint32_t r)
{
    switch (r) {
    case 0: return "EXCEPTION_NMI";
    case 1: return "EXTERNAL_INTERRUPT";
    case 2: return "TRIPLE_FAULT";
    case 7: return "INTERRUPT_WINDOW";
    case 10: return "CPUID";
    case 12: return "HLT";
    case 18: return "VMCALL";
    case 28: return "CR_ACCESS";
    case 30: return "IO_INSTRUCTION";
    case 31: return "RDMSR";
    case 32: return "WRMSR";
    case 33: return "INVALID_GUEST_STATE";
    case 34: return "MSR_LOADING";
    case 46: return "GDTR_IDTR_ACCESS";
    case 47: return "LDTR_TR_ACCESS";
    default: return "?";
    }
}

/* ------------------------------------------------------------------ */
/* Pass/fail bookkeeping                                               */
static int n_pass, n_fail;

static void check(int ok, const char *what)
{
    if (ok) {
        n_pass++;
        printk("  ok   %s\n", what);
    } else {
        n_fail++;
        printk("  FAIL %s\n", what);
    }
}

/* ------------------------------------------------------------------ */
/* VMX instruction wrappers.  Result: 0 = VMsucceed, 1 = VMfailInvalid
 * (CF=1), 2 = VMfailValid (ZF=1).                                     */
static inline int vmx_result(uint8_t cf, uint8_t zf)
{
    return cf ? 1 : (zf ? 2 : 0);
}

static int vmxon(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %2\n\tsetc %0\n\tsetz %1"
                     : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return vmx_result(cf, zf);
}

static int vmxoff(void)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxoff\n\tsetc %0\n\tsetz %1" : "=qm"(cf), "=qm"(zf) : : "cc", "memory");
    return vmx_result(cf, zf);
}

static int vmclear(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %2\n\tsetc %0\n\tsetz %1"
                     : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return vmx_result(cf, zf);
}

static int vmptrld(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %2\n\tsetc %0\n\tsetz %1"
                     : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return vmx_result(cf, zf);
}

static uint64_t vmptrst(void)
{
    uint64_t pa = 0;
    __asm__ volatile("vmptrst %0" : "=m"(pa) : : "memory");
    return pa;
}

static int vmwrite_failures;
static uint32_t vmwrite_first_bad = 0xffffffffu;

static void vmw(uint32_t field, uint64_t value)
{
    uint8_t bad;
    uint64_t f = field;
    __asm__ volatile("vmwrite %1, %2\n\tsetbe %0"
                     : "=qm"(bad) : "r"(value), "r"(f) : "cc", "memory");
    if (bad) {
        if (!vmwrite_failures)
            vmwrite_first_bad = field;
        vmwrite_failures++;
    }
}

static int vmread_failures;

static uint64_t vmr(uint32_t field)
{
    uint64_t v = 0, f = field;
    uint8_t bad;
    __asm__ volatile("vmread %2, %0\n\tsetbe %1"
                     : "=r"(v), "=qm"(bad) : "r"(f) : "cc", "memory");
    if (bad)
        vmread_failures++;
    return v;
}

/* "The usual adjust function": force the required (allowed-0) bits on,
 * keep only the allowed-1 bits. */
static uint32_t adjust_controls(uint32_t msr, uint32_t wanted)
{
    uint64_t cap = rdmsr(msr);
    uint32_t must_be_one = (uint32_t)cap;
    uint32_t may_be_one = (uint32_t)(cap >> 32);
    return (wanted | must_be_one) & may_be_one;
}

/* ------------------------------------------------------------------ */
/* Host GDT with a 64-bit TSS, so that HOST_TR_SELECTOR is not 0.      */
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

#define HOST_CS 0x08
#define HOST_DS 0x10
#define HOST_TR 0x18

static uint64_t host_gdt[6] __attribute__((aligned(16)));
static struct tss64 host_tss __attribute__((aligned(16)));

static uint64_t tss_desc_lo(uint64_t base, uint32_t limit)
{
    return (limit & 0xffffull) | ((base & 0xffffffull) << 16) | (0x89ull << 40) /* P, type 9 */
         | ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xffull) << 56);
}

static void host_gdt_setup(void)
{
    memset(&host_tss, 0, sizeof(host_tss));
    host_tss.iomap_base = sizeof(host_tss);
    host_gdt[0] = 0;
    host_gdt[1] = 0x00AF9B000000FFFFull;    /* 0x08: 64-bit code */
    host_gdt[2] = 0x00CF93000000FFFFull;    /* 0x10: data */
    host_gdt[3] = tss_desc_lo((uint64_t)(uintptr_t)&host_tss, sizeof(host_tss) - 1);
    host_gdt[4] = (uint64_t)(uintptr_t)&host_tss >> 32;
    host_gdt[5] = 0;
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
        sizeof(host_gdt) - 1, (uint64_t)(uintptr_t)host_gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq $0x08\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw $0x10, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "movw $0x18, %%ax\n\t"
        "ltr %%ax\n\t"
        : : "m"(gdtr) : "rax", "memory");
}

struct dtr { uint16_t limit; uint64_t base; } __attribute__((packed));

/* ------------------------------------------------------------------ */
/* The guest: position-independent code + data, copied to GUEST_BASE.  */
#define GUEST_BASE   0x00800000ul
#define GUEST_CS     0x28
#define GUEST_DS     0x30
#define GUEST_TR     0x38
#define SYSENTER_ESP_VALUE 0xFFFFA5A5DEADBEE0
#define GUEST_DONE_MAGIC   0x600D600D
#define GUEST_SUB_MAGIC    0x5ADD5ADD

/* Result slots written by the guest (8 bytes each, at g_res).  Plain
 * numbers because the guest assembly uses them too. */
#define S_CS            0
#define S_SS            1
#define S_RSP           2
#define S_C0_EAX        3
#define S_C0_EBX        4
#define S_C0_ECX        5
#define S_C0_EDX        6
#define S_HV_EAX        7
#define S_HV_EBX        8
#define S_HV_ECX        9
#define S_HV_EDX        10
#define S_CR4           11
#define S_CR0           12
#define S_EFER          13
#define S_SYSENTER_ESP  14
#define S_SGDT_LO       15      /* 10 bytes of SGDT output + padding */
#define S_SGDT_HI       16
#define S_SUB           17
#define S_DONE          18

#define STR_(x) #x
#define STR(x) STR_(x)
#define SLOT(n) "g_res+(8*" STR(n) ")(%rip)"

__asm__(
    "  .pushsection .rodata.sdm_guest, \"a\"\n"
    "  .balign 4096\n"
    "  .globl g_blob, g_entry, g_gdt, g_gdt_end, g_tss, g_res, g_stack_top, g_blob_end\n"
    "  .globl g_at_cpuid0, g_at_cpuid_hv, g_at_wrmsr, g_at_sgdt, g_at_hlt\n"
    "g_blob:\n"
    "g_entry:\n"
    "  xorl %eax, %eax\n"
    "  movw %cs, %ax\n"
    "  movq %rax, " SLOT(S_CS) "\n"
    "  xorl %eax, %eax\n"
    "  movw %ss, %ax\n"
    "  movq %rax, " SLOT(S_SS) "\n"
    "  movq %rsp, " SLOT(S_RSP) "\n"
    /* CPUID leaf 0: the host replaces the vendor string */
    "  xorl %eax, %eax\n"
    "  xorl %ecx, %ecx\n"
    "g_at_cpuid0:\n"
    "  cpuid\n"
    "  movq %rax, " SLOT(S_C0_EAX) "\n"
    "  movq %rbx, " SLOT(S_C0_EBX) "\n"
    "  movq %rcx, " SLOT(S_C0_ECX) "\n"
    "  movq %rdx, " SLOT(S_C0_EDX) "\n"
    /* CPUID leaf 0x40000000: hypervisor signature */
    "  movl $0x40000000, %eax\n"
    "  xorl %ecx, %ecx\n"
    "g_at_cpuid_hv:\n"
    "  cpuid\n"
    "  movq %rax, " SLOT(S_HV_EAX) "\n"
    "  movq %rbx, " SLOT(S_HV_EBX) "\n"
    "  movq %rcx, " SLOT(S_HV_ECX) "\n"
    "  movq %rdx, " SLOT(S_HV_EDX) "\n"
    /* control registers as the guest sees them (CR4.VMXE and CR0.NE shadowed) */
    "  movq %cr4, %rax\n"
    "  movq %rax, " SLOT(S_CR4) "\n"
    "  movq %cr0, %rax\n"
    "  movq %rax, " SLOT(S_CR0) "\n"
    /* RDMSR IA32_EFER: not in the MSR bitmap, no exit */
    "  movl $0xC0000080, %ecx\n"
    "  rdmsr\n"
    "  shlq $32, %rdx\n"
    "  movl %eax, %eax\n"
    "  orq %rdx, %rax\n"
    "  movq %rax, " SLOT(S_EFER) "\n"
    /* WRMSR IA32_SYSENTER_ESP: in the write bitmap, exits */
    "  movl $0x175, %ecx\n"
    "  movabsq $" STR(SYSENTER_ESP_VALUE) ", %rax\n"
    "  movq %rax, %rdx\n"
    "  shrq $32, %rdx\n"
    "  movl %eax, %eax\n"
    "g_at_wrmsr:\n"
    "  wrmsr\n"
    /* RDMSR IA32_SYSENTER_ESP: no exit, value comes from the VMCS */
    "  xorl %eax, %eax\n"
    "  xorl %edx, %edx\n"
    "  movl $0x175, %ecx\n"
    "  rdmsr\n"
    "  shlq $32, %rdx\n"
    "  movl %eax, %eax\n"
    "  orq %rdx, %rax\n"
    "  movq %rax, " SLOT(S_SYSENTER_ESP) "\n"
    /* SGDT with base + index*8 + disp8 addressing */
    "  leaq " SLOT(S_SGDT_LO) ", %rbx\n"
    "  subq $0x28, %rbx\n"
    "  movl $1, %ecx\n"
    "g_at_sgdt:\n"
    "  sgdt 0x20(%rbx,%rcx,8)\n"
    /* use the guest's own stack */
    "  call g_sub\n"
    "  movq %rax, " SLOT(S_SUB) "\n"
    "  movq $" STR(GUEST_DONE_MAGIC) ", " SLOT(S_DONE) "\n"
    "g_at_hlt:\n"
    "  hlt\n"
    "1:\n"
    "  hlt\n"
    "  jmp 1b\n"
    "g_sub:\n"
    "  pushq %rbx\n"
    "  movl $" STR(GUEST_SUB_MAGIC) ", %ebx\n"
    "  movq %rbx, %rax\n"
    "  popq %rbx\n"
    "  ret\n"
    /* the guest's own GDT: 0x28 code, 0x30 data, 0x38 TSS (filled in by the host) */
    "  .balign 64\n"
    "g_gdt:\n"
    "  .quad 0, 0, 0, 0, 0\n"
    "  .quad 0x00AF9B000000FFFF\n"   /* 0x28 */
    "  .quad 0x00CF93000000FFFF\n"   /* 0x30 */
    "  .quad 0, 0\n"                 /* 0x38 TSS */
    "g_gdt_end:\n"
    "  .balign 64\n"
    "g_tss:\n"
    "  .fill 104, 1, 0\n"
    "  .balign 4096\n"
    "g_res:\n"
    "  .fill 4096, 1, 0\n"
    "g_stack:\n"
    "  .fill 4096, 1, 0\n"
    "g_stack_top:\n"
    "g_blob_end:\n"
    "  .popsection\n");

extern char g_blob[], g_entry[], g_gdt[], g_gdt_end[], g_tss[], g_res[], g_stack_top[], g_blob_end[];
extern char g_at_cpuid0[], g_at_cpuid_hv[], g_at_wrmsr[], g_at_sgdt[], g_at_hlt[];

#define GOFF(sym) ((uint64_t)((uintptr_t)(sym) - (uintptr_t)g_blob))
#define GADDR(sym) (GUEST_BASE + GOFF(sym))

static inline uint64_t gslot(int n)
{
    return ((volatile uint64_t *)(uintptr_t)GADDR(g_res))[n];
}

/* ------------------------------------------------------------------ */
/* VM launch and exit stubs                                             */
uint64_t sdm_host_saved_rsp;
static uint8_t exit_stack[16384] __attribute__((aligned(16)));
int sdm_handle_exit(uint64_t *regs);

/*
 * int sdm_vm_launch(void): returns 0 when the exit handler ended the run,
 * 1/2 if VMLAUNCH failed (invalid/valid), 3/4 if a VMRESUME failed.
 * The exit stub builds regs[16] on the exit stack indexed by the SDM's
 * register numbering (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP (unused), 5 RBP,
 * 6 RSI, 7 RDI, 8-15 R8-R15).
 */
__asm__(
    "  .text\n"
    "  .globl sdm_vm_launch, sdm_exit_stub\n"
    "sdm_vm_launch:\n"
    "  pushq %rbx\n"
    "  pushq %rbp\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  movq %rsp, sdm_host_saved_rsp(%rip)\n"
    "  vmlaunch\n"
    "  movl $1, %eax\n"
    "  jc 9f\n"
    "  movl $2, %eax\n"
    "  jmp 9f\n"
    "sdm_exit_stub:\n"
    "  pushq %r15\n"
    "  pushq %r14\n"
    "  pushq %r13\n"
    "  pushq %r12\n"
    "  pushq %r11\n"
    "  pushq %r10\n"
    "  pushq %r9\n"
    "  pushq %r8\n"
    "  pushq %rdi\n"
    "  pushq %rsi\n"
    "  pushq %rbp\n"
    "  pushq $0\n"
    "  pushq %rbx\n"
    "  pushq %rdx\n"
    "  pushq %rcx\n"
    "  pushq %rax\n"
    "  movq %rsp, %rdi\n"
    "  call sdm_handle_exit\n"
    "  testl %eax, %eax\n"
    "  jz 8f\n"
    "  popq %rax\n"
    "  popq %rcx\n"
    "  popq %rdx\n"
    "  popq %rbx\n"
    "  addq $8, %rsp\n"
    "  popq %rbp\n"
    "  popq %rsi\n"
    "  popq %rdi\n"
    "  popq %r8\n"
    "  popq %r9\n"
    "  popq %r10\n"
    "  popq %r11\n"
    "  popq %r12\n"
    "  popq %r13\n"
    "  popq %r14\n"
    "  popq %r15\n"
    "  vmresume\n"
    "  movl $3, %eax\n"
    "  jc 9f\n"
    "  movl $4, %eax\n"
    "  jmp 9f\n"
    "8:\n"
    "  xorl %eax, %eax\n"
    "9:\n"
    "  movq sdm_host_saved_rsp(%rip), %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbp\n"
    "  popq %rbx\n"
    "  ret\n");

int sdm_vm_launch(void);
extern char sdm_exit_stub[];

/* ------------------------------------------------------------------ */
/* VMX regions (identity mapped: virtual == physical)                  */
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));

static uint32_t ctl_pin, ctl_proc, ctl_proc2, ctl_exit, ctl_entry;
static int dt_exiting;          /* descriptor-table exiting granted */
static uint32_t host_max_leaf;

/* Expected exit sequence. */
static uint32_t expected[8];
static uint64_t expected_rip[8];
static int n_expected, n_exits, exit_seq_ok = 1, run_ok;
static uint64_t wrmsr_seen_value;
static int sgdt_decoded_ok, sgdt_emulated;

static void set_bitmap_write(uint32_t msr)
{
    /* write bitmap for low MSRs: bytes 2048..3071 */
    msr_bitmap[2048 + msr / 8] |= (uint8_t)(1u << (msr & 7));
}

static void put_vendor_reg(char *dst, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        dst[i] = (char)(v >> (8 * i));
}

static uint32_t str4(const char *s)
{
    return (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 |
           (uint32_t)(uint8_t)s[2] << 16 | (uint32_t)(uint8_t)s[3] << 24;
}

static int is_canonical(uint64_t v)
{
    return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

static const char *reg_name(unsigned r)
{
    static const char *const n[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
    return n[r & 15];
}

static void advance_rip(void)
{
    vmw(G_RIP, vmr(G_RIP) + vmr(R_EXIT_INSN_LEN));
}

int sdm_handle_exit(uint64_t *regs)
{
    uint32_t reason_full = (uint32_t)vmr(R_EXIT_REASON);
    uint32_t reason = reason_full & 0xffff;
    uint64_t rip = vmr(G_RIP);
    uint32_t len = (uint32_t)vmr(R_EXIT_INSN_LEN);
    uint64_t qual = vmr(R_EXIT_QUAL);
    int idx = n_exits++;

    if (reason_full & 0x80000000u) {
        printk("exit #%d: VM-entry failure, reason %u (%s), qualification %lu\n",
               idx + 1, reason, exit_name(reason), qual);
        exit_seq_ok = 0;
        return 0;
    }
    if (reason == EXIT_REASON_EXCEPTION || reason == EXIT_REASON_TRIPLE) {
        uint32_t info = (uint32_t)vmr(R_EXIT_INTR_INFO);
        printk("exit #%d: reason %u (%s), vector %u, error 0x%x, at guest+0x%lx\n",
               idx + 1, reason, exit_name(reason), info & 0xff,
               (uint32_t)vmr(R_EXIT_INTR_ERR), rip - GUEST_BASE);
        exit_seq_ok = 0;
        return 0;
    }

    printk("exit #%d: reason %u (%s), length %u, at guest+0x%lx\n",
           idx + 1, reason, exit_name(reason), len, rip - GUEST_BASE);

    if (idx >= n_expected || expected[idx] != reason || expected_rip[idx] != rip) {
        printk("  unexpected exit (expected reason %u at guest+0x%lx)\n",
               idx < n_expected ? expected[idx] : 0,
               idx < n_expected ? expected_rip[idx] - GUEST_BASE : 0);
        exit_seq_ok = 0;
        return 0;
    }

    switch (reason) {
    case EXIT_REASON_CPUID: {
        uint32_t leaf = (uint32_t)regs[0], sub = (uint32_t)regs[1];
        uint32_t a, b, c, d;
        if (leaf == 0) {
            cpuid(0, sub, &a, &b, &c, &d);
            b = str4("SDMh");
            d = str4("vTes");
            c = str4("tCPU");
        } else if (leaf == 0x40000000) {
            a = 0x40000000;
            b = str4("SDMh");
            c = str4("vHos");
            d = str4("tSig");
        } else {
            cpuid(leaf, sub, &a, &b, &c, &d);
        }
        /* CPUID writes 32-bit results, zero-extended in 64-bit mode */
        regs[0] = a;
        regs[3] = b;
        regs[1] = c;
        regs[2] = d;
        if (len != 2)
            exit_seq_ok = 0;
        advance_rip();
        return 1;
    }
    case EXIT_REASON_WRMSR: {
        uint32_t msr = (uint32_t)regs[1];
        uint64_t val = ((uint64_t)(uint32_t)regs[2] << 32) | (uint32_t)regs[0];
        if (msr != MSR_IA32_SYSENTER_ESP || len != 2 || !is_canonical(val)) {
            printk("  unexpected WRMSR 0x%x\n", msr);
            exit_seq_ok = 0;
            return 0;
        }
        /* emulate: the guest's SYSENTER_ESP lives in the guest-state area */
        vmw(G_SYSENTER_ESP, val);
        wrmsr_seen_value = val;
        advance_rip();
        return 1;
    }
    case EXIT_REASON_GDTR_IDTR: {
        uint32_t info = (uint32_t)vmr(R_EXIT_INSN_INFO);
        unsigned scale = info & 3, asize = (info >> 7) & 7, seg = (info >> 15) & 7;
        unsigned index = (info >> 18) & 15, index_bad = (info >> 22) & 1;
        unsigned base = (info >> 23) & 15, base_bad = (info >> 27) & 1;
        unsigned ident = (info >> 28) & 3;
        static const char *const idents[4] = { "SGDT", "SIDT", "LGDT", "LIDT" };
        static const char *const segs[8] = { "es", "cs", "ss", "ds", "fs", "gs", "?", "?" };
        printk("  %s %s:[%s + %s*%u + %ld], address size %u\n", idents[ident], segs[seg],
               base_bad ? "-" : reg_name(base), index_bad ? "-" : reg_name(index),
               1u << scale, (int64_t)qual, 16u << asize);
        sgdt_decoded_ok = ident == 0 && asize == 2 && seg == 3 && !base_bad && base == 3 &&
                          !index_bad && index == 1 && scale == 3 && qual == 0x20 && len == 5;
        if (ident != 0 || asize != 2) {
            exit_seq_ok = 0;
            return 0;
        }
        /* effective address; in 64-bit mode only FS/GS have a base */
        uint64_t ea = qual;
        if (!base_bad)
            ea += base == 4 ? vmr(G_RSP) : regs[base];
        if (!index_bad)
            ea += (index == 4 ? vmr(G_RSP) : regs[index]) << scale;
        if (seg == 4)
            ea += vmr(G_FS_BASE);
        else if (seg == 5)
            ea += vmr(G_GS_BASE);
        if (ea < GUEST_BASE || ea + 10 > GUEST_BASE + GOFF(g_blob_end)) {
            printk("  SGDT operand outside the guest area\n");
            exit_seq_ok = 0;
            return 0;
        }
        /* guest paging is the host's identity map: linear == physical */
        uint16_t lim = (uint16_t)vmr(G_GDTR_LIMIT);
        uint64_t gbase = vmr(G_GDTR_BASE);
        memcpy((void *)(uintptr_t)ea, &lim, 2);
        memcpy((void *)(uintptr_t)(ea + 2), &gbase, 8);
        sgdt_emulated = 1;
        advance_rip();
        return 1;
    }
    case EXIT_REASON_HLT:
        run_ok = len == 1;
        return 0;   /* end of the test: back to kmain */
    default:
        exit_seq_ok = 0;
        return 0;
    }
}

/* ------------------------------------------------------------------ */
static void finish(void)
{
    printk("sdm-hv: %d passed, %d failed\n", n_pass, n_fail);
    const char *s = "Shutdown";
    while (*s)
        outb(0x8900, (uint8_t)*s++);
    exit_qemu(n_fail ? 1 : 0);
}

static void fatal(const char *why)
{
    printk("sdm-hv: cannot continue: %s\n", why);
    n_fail++;
    finish();
}

void kmain(uint32_t magic, uint32_t mbinfo)
{
    uint32_t a, b, c, d;
    char buf[80];

    puts("sdm-hv: VT-x guest hypervisor from the SDM\n");
    idt_init();
    host_gdt_setup();

    /* ---- 1. is VMX there at all? ---- */
    puts("[setup]\n");
    cpuid(1, 0, &a, &b, &c, &d);
    check((c >> 5) & 1, "CPUID.1:ECX.VMX[bit 5] is set");
    if (!((c >> 5) & 1))
        fatal("no VMX");

    /* ---- 2. IA32_FEATURE_CONTROL ---- */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FC_LOCK)) {
        fc |= FC_VMXON_OUTSIDE_SMX | FC_LOCK;
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
        fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    }
    check((fc & FC_LOCK) && (fc & FC_VMXON_OUTSIDE_SMX),
          "IA32_FEATURE_CONTROL locked with VMXON outside SMX enabled");
    if (!(fc & FC_VMXON_OUTSIDE_SMX))
        fatal("VMXON disabled by IA32_FEATURE_CONTROL");

    /* ---- 3. IA32_VMX_BASIC ---- */
    uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
    uint32_t revision = (uint32_t)basic & 0x7fffffffu;
    uint32_t region_size = (uint32_t)(basic >> 32) & 0x1fff;
    int true_ctls = (basic >> 55) & 1;
    check((basic & 0x80000000ull) == 0, "IA32_VMX_BASIC[31] is 0");
    check(region_size > 0 && region_size <= 4096, "VMXON/VMCS region size is at most 4 KiB");
    check(((basic >> 48) & 1) == 0, "IA32_VMX_BASIC[48] is 0 (64-bit physical addresses)");
    check(((basic >> 50) & 0xf) == 6, "VMCS memory type is write-back");

    /* ---- 4. CR0/CR4 fixed bits ---- */
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    uint64_t f0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0), f1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    cr0 = (cr0 | f0) & f1;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    uint64_t g0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0), g1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    cr4 = ((cr4 | CR4_VMXE) | g0) & g1;
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
    cr0 = read_cr0();
    cr4 = read_cr4();
    check((cr0 & f0) == f0 && (cr0 & ~f1) == 0 && (cr4 & g0) == g0 && (cr4 & ~g1) == 0 &&
          (cr4 & CR4_VMXE), "CR0/CR4 satisfy IA32_VMX_CR{0,4}_FIXED{0,1}, CR4.VMXE=1");

    /* ---- 5. VMXON, VMCLEAR, VMPTRLD ---- */
    memset(vmxon_region, 0, sizeof(vmxon_region));
    memset(vmcs_region, 0, sizeof(vmcs_region));
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs_region = revision;
    uint64_t vmxon_pa = (uint64_t)(uintptr_t)vmxon_region;
    uint64_t vmcs_pa = (uint64_t)(uintptr_t)vmcs_region;
    int r = vmxon(vmxon_pa);
    check(r == 0, "VMXON succeeds");
    if (r)
        fatal("VMXON failed");
    r = vmclear(vmcs_pa);
    check(r == 0, "VMCLEAR succeeds");
    r |= vmptrld(vmcs_pa);
    check(r == 0, "VMPTRLD succeeds");
    if (r)
        fatal("cannot make the VMCS current");
    check(vmptrst() == vmcs_pa, "VMPTRST returns the current VMCS");

    /* ---- 6. controls from the (TRUE) capability MSRs ---- */
    puts("[controls]\n");
    ctl_pin = adjust_controls(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED : MSR_IA32_VMX_PINBASED, 0);
    ctl_proc = adjust_controls(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED : MSR_IA32_VMX_PROCBASED,
                               PROC_HLT_EXITING | PROC_USE_MSR_BITMAPS | PROC_ACTIVATE_SECONDARY);
    ctl_proc2 = 0;
    if (ctl_proc & PROC_ACTIVATE_SECONDARY)
        ctl_proc2 = adjust_controls(MSR_IA32_VMX_PROCBASED2, PROC2_DESC_TABLE_EXITING);
    dt_exiting = (ctl_proc & PROC_ACTIVATE_SECONDARY) && (ctl_proc2 & PROC2_DESC_TABLE_EXITING);
    ctl_exit = adjust_controls(true_ctls ? MSR_IA32_VMX_TRUE_EXIT : MSR_IA32_VMX_EXIT,
                               EXIT_HOST_ADDR_SPACE | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_LOAD_PAT);
    ctl_entry = adjust_controls(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY : MSR_IA32_VMX_ENTRY,
                                ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER);
    /* The load-EFER controls go together here: if the guest's EFER is
     * not loaded, do not save it either (and vice versa). */
    check(ctl_proc & PROC_HLT_EXITING, "HLT exiting granted");
    check(ctl_proc & PROC_USE_MSR_BITMAPS, "MSR bitmaps granted");
    check(ctl_exit & EXIT_HOST_ADDR_SPACE, "host address-space size granted");
    check(ctl_entry & ENTRY_IA32E_GUEST, "IA-32e mode guest granted");

    /* ---- 7. the guest image ---- */
    uint64_t blob_size = GOFF(g_blob_end);
    memcpy((void *)(uintptr_t)GUEST_BASE, g_blob, blob_size);
    {
        uint64_t *gdt = (uint64_t *)(uintptr_t)GADDR(g_gdt);
        uint64_t tss = GADDR(g_tss);
        gdt[GUEST_TR / 8] = tss_desc_lo(tss, 103) | (1ull << 41);   /* busy */
        gdt[GUEST_TR / 8 + 1] = tss >> 32;
    }
    memset(msr_bitmap, 0, sizeof(msr_bitmap));
    set_bitmap_write(MSR_IA32_SYSENTER_ESP);

    /* ---- 8. fill in the VMCS ---- */
    /* controls */
    vmw(C_PIN, ctl_pin);
    vmw(C_PROC, ctl_proc);
    if (ctl_proc & PROC_ACTIVATE_SECONDARY)
        vmw(C_PROC2, ctl_proc2);
    vmw(C_EXIT, ctl_exit);
    vmw(C_ENTRY, ctl_entry);
    vmw(C_EXC_BITMAP, 0xffffffffu);     /* every guest exception exits */
    vmw(C_PFEC_MASK, 0);
    vmw(C_PFEC_MATCH, 0);
    vmw(C_CR3_TARGET_COUNT, 0);
    vmw(C_MSR_BITMAP, (uint64_t)(uintptr_t)msr_bitmap);
    vmw(C_EXIT_MSR_STORE_COUNT, 0);
    vmw(C_EXIT_MSR_LOAD_COUNT, 0);
    vmw(C_ENTRY_MSR_LOAD_COUNT, 0);
    vmw(C_ENTRY_INTR_INFO, 0);
    vmw(C_TSC_OFFSET, 0);

    /* host state */
    struct dtr hidt;
    __asm__ volatile("sidt %0" : "=m"(hidt));
    vmw(H_CR0, read_cr0());
    vmw(H_CR3, read_cr3());
    vmw(H_CR4, read_cr4());
    vmw(H_CS_SEL, HOST_CS);
    vmw(H_SS_SEL, HOST_DS);
    vmw(H_DS_SEL, HOST_DS);
    vmw(H_ES_SEL, HOST_DS);
    vmw(H_FS_SEL, HOST_DS);
    vmw(H_GS_SEL, HOST_DS);
    vmw(H_TR_SEL, HOST_TR);
    vmw(H_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
    vmw(H_GS_BASE, rdmsr(MSR_IA32_GS_BASE));
    vmw(H_TR_BASE, (uint64_t)(uintptr_t)&host_tss);
    vmw(H_GDTR_BASE, (uint64_t)(uintptr_t)host_gdt);
    vmw(H_IDTR_BASE, hidt.base);
    vmw(H_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    vmw(H_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    vmw(H_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    vmw(H_RSP, (uint64_t)(uintptr_t)(exit_stack + sizeof(exit_stack)));
    vmw(H_RIP, (uint64_t)(uintptr_t)sdm_exit_stub);
    if (ctl_exit & EXIT_LOAD_EFER)
        vmw(H_EFER, rdmsr(MSR_IA32_EFER));
    if (ctl_exit & EXIT_LOAD_PAT)
        vmw(H_PAT, rdmsr(MSR_IA32_PAT));

    /* guest state */
    uint64_t gcr0 = read_cr0(), gcr4 = read_cr4();
    vmw(G_CR0, gcr0);
    vmw(G_CR3, read_cr3());             /* shares the identity map */
    vmw(G_CR4, gcr4);
    vmw(C_CR0_MASK, CR0_NE);            /* guest reads CR0.NE from the shadow (0) */
    vmw(C_CR0_SHADOW, gcr0 & ~CR0_NE);
    vmw(C_CR4_MASK, CR4_VMXE);          /* hide CR4.VMXE */
    vmw(C_CR4_SHADOW, gcr4 & ~CR4_VMXE);
    vmw(G_DR7, 0x400);
    vmw(G_RSP, GADDR(g_stack_top));
    vmw(G_RIP, GADDR(g_entry));
    vmw(G_RFLAGS, 0x2);

    vmw(G_CS_SEL, GUEST_CS);
    vmw(G_CS_BASE, 0);
    vmw(G_CS_LIMIT, 0xffffffff);
    vmw(G_CS_AR, 0xA09B);               /* code, accessed, S, P, L, G */
    static const uint32_t dsegs[3][4] = {
        { G_SS_SEL, G_SS_BASE, G_SS_LIMIT, G_SS_AR },
        { G_DS_SEL, G_DS_BASE, G_DS_LIMIT, G_DS_AR },
        { G_ES_SEL, G_ES_BASE, G_ES_LIMIT, G_ES_AR },
    };
    for (int i = 0; i < 3; i++) {
        vmw(dsegs[i][0], GUEST_DS);
        vmw(dsegs[i][1], 0);
        vmw(dsegs[i][2], 0xffffffff);
        vmw(dsegs[i][3], 0xC093);       /* data RW accessed, S, P, D/B, G */
    }
    static const uint32_t nsegs[3][4] = {
        { G_FS_SEL, G_FS_BASE, G_FS_LIMIT, G_FS_AR },
        { G_GS_SEL, G_GS_BASE, G_GS_LIMIT, G_GS_AR },
        { G_LDTR_SEL, G_LDTR_BASE, G_LDTR_LIMIT, G_LDTR_AR },
    };
    for (int i = 0; i < 3; i++) {
        vmw(nsegs[i][0], 0);
        vmw(nsegs[i][1], 0);
        vmw(nsegs[i][2], 0);
        vmw(nsegs[i][3], 0x10000);      /* unusable */
    }
    vmw(G_TR_SEL, GUEST_TR);
    vmw(G_TR_BASE, GADDR(g_tss));
    vmw(G_TR_LIMIT, 103);
    vmw(G_TR_AR, 0x8B);                 /* busy 64-bit TSS, P */
    vmw(G_GDTR_BASE, GADDR(g_gdt));
    vmw(G_GDTR_LIMIT, GOFF(g_gdt_end) - GOFF(g_gdt) - 1);
    vmw(G_IDTR_BASE, 0);
    vmw(G_IDTR_LIMIT, 0);
    vmw(G_LINK_PTR, ~0ull);
    vmw(G_DEBUGCTL, 0);
    vmw(G_SYSENTER_CS, 0);
    vmw(G_SYSENTER_ESP, 0);
    vmw(G_SYSENTER_EIP, 0);
    if (ctl_entry & ENTRY_LOAD_EFER)
        vmw(G_EFER, EFER_LME | EFER_LMA);
    vmw(G_INTERRUPTIBILITY, 0);
    vmw(G_ACTIVITY, 0);
    vmw(G_PENDING_DBG, 0);

    check(vmwrite_failures == 0, "all VMWRITEs succeed");
    if (vmwrite_failures)
        printk("  (first failing field 0x%x)\n", vmwrite_first_bad);

    /* ---- 9. run ---- */
    n_expected = 0;
    expected[n_expected] = EXIT_REASON_CPUID;  expected_rip[n_expected++] = GADDR(g_at_cpuid0);
    expected[n_expected] = EXIT_REASON_CPUID;  expected_rip[n_expected++] = GADDR(g_at_cpuid_hv);
    expected[n_expected] = EXIT_REASON_WRMSR;  expected_rip[n_expected++] = GADDR(g_at_wrmsr);
    if (dt_exiting) {
        expected[n_expected] = EXIT_REASON_GDTR_IDTR;
        expected_rip[n_expected++] = GADDR(g_at_sgdt);
    }
    expected[n_expected] = EXIT_REASON_HLT;    expected_rip[n_expected++] = GADDR(g_at_hlt);
    cpuid(0, 0, &host_max_leaf, &b, &c, &d);

    puts("[guest]\n");
    r = sdm_vm_launch();
    if (r) {
        printk("  VM%s failed (%s), VM-instruction error %lu\n", r <= 2 ? "LAUNCH" : "RESUME",
               (r & 1) ? "VMfailInvalid" : "VMfailValid",
               (r & 1) ? 0ul : vmr(R_VM_INSN_ERROR));
    }
    check(r == 0, "VMLAUNCH enters the guest and every VMRESUME succeeds");
    check(exit_seq_ok && run_ok && n_exits == n_expected,
          "exits arrive in the expected order, at the expected RIPs and lengths");

    /* ---- 10. what did the guest see? ---- */
    puts("[results]\n");
    check(gslot(S_CS) == GUEST_CS && gslot(S_SS) == GUEST_DS,
          "guest runs with its own selectors (CS 0x28, SS 0x30)");
    check(gslot(S_RSP) == GADDR(g_stack_top), "guest starts on its own stack");
    put_vendor_reg(buf + 0, (uint32_t)gslot(S_C0_EBX));
    put_vendor_reg(buf + 4, (uint32_t)gslot(S_C0_EDX));
    put_vendor_reg(buf + 8, (uint32_t)gslot(S_C0_ECX));
    buf[12] = 0;
    printk("  guest CPUID.0 vendor: \"%s\"\n", buf);
    check(memcmp(buf, "SDMhvTestCPU", 12) == 0, "CPUID.0 vendor replaced by the host");
    check(gslot(S_C0_EAX) == host_max_leaf, "CPUID.0 EAX is the real maximum leaf");
    put_vendor_reg(buf + 0, (uint32_t)gslot(S_HV_EBX));
    put_vendor_reg(buf + 4, (uint32_t)gslot(S_HV_ECX));
    put_vendor_reg(buf + 8, (uint32_t)gslot(S_HV_EDX));
    buf[12] = 0;
    printk("  guest CPUID.40000000h: eax=0x%lx signature \"%s\"\n", gslot(S_HV_EAX), buf);
    check(gslot(S_HV_EAX) == 0x40000000 && memcmp(buf, "SDMhvHostSig", 12) == 0,
          "CPUID.40000000h returns the hypervisor signature");
    uint64_t seen_cr4 = gslot(S_CR4), seen_cr0 = gslot(S_CR0);
    printk("  guest CR4: VMXE=%lu PAE=%lu; guest CR0: PG=%lu NE=%lu PE=%lu\n",
           (seen_cr4 >> 13) & 1, (seen_cr4 >> 5) & 1, (seen_cr0 >> 31) & 1,
           (seen_cr0 >> 5) & 1, seen_cr0 & 1);
    check(seen_cr4 == (gcr4 & ~CR4_VMXE), "MOV from CR4 returns the read shadow for VMXE");
    check(seen_cr0 == (gcr0 & ~CR0_NE), "MOV from CR0 returns the read shadow for NE");
    uint64_t seen_efer = gslot(S_EFER);
    printk("  guest EFER: LMA=%lu LME=%lu\n", (seen_efer >> 10) & 1, (seen_efer >> 8) & 1);
    check((seen_efer & (EFER_LMA | EFER_LME)) == (EFER_LMA | EFER_LME),
          "RDMSR IA32_EFER without exit shows LMA and LME");
    printk("  guest SYSENTER_ESP after WRMSR: 0x%lx\n", gslot(S_SYSENTER_ESP));
    check(wrmsr_seen_value == SYSENTER_ESP_VALUE, "WRMSR exit carries EDX:EAX");
    check(gslot(S_SYSENTER_ESP) == SYSENTER_ESP_VALUE,
          "RDMSR IA32_SYSENTER_ESP returns the value written through the VMCS");
    check(vmr(G_SYSENTER_ESP) == SYSENTER_ESP_VALUE, "GUEST_IA32_SYSENTER_ESP field holds it");
    {
        uint64_t lo = gslot(S_SGDT_LO), hi = gslot(S_SGDT_HI);
        uint16_t lim = (uint16_t)lo;
        uint64_t base = (lo >> 16) | (hi << 48);
        printk("  guest SGDT: limit 0x%x, base guest+0x%lx\n", lim, base - GUEST_BASE);
        check(lim == GOFF(g_gdt_end) - GOFF(g_gdt) - 1 && base == GADDR(g_gdt),
              "SGDT gives the guest's own GDT");
        if (dt_exiting)
            check(sgdt_emulated && sgdt_decoded_ok,
                  "SGDT exit: instruction information and displacement decoded");
        else
            check(!sgdt_emulated, "SGDT executed without exit");
    }
    check(gslot(S_SUB) == GUEST_SUB_MAGIC, "guest CALL/RET on its own stack");
    check(gslot(S_DONE) == GUEST_DONE_MAGIC, "guest reached its final HLT");
    if (ctl_exit & EXIT_SAVE_EFER)
        check((vmr(G_EFER) & (EFER_LMA | EFER_LME)) == (EFER_LMA | EFER_LME),
              "guest EFER state is 64-bit after the exit");
    else
        check(1, "guest EFER state is 64-bit after the exit");
    check(vmr(G_CS_SEL) == GUEST_CS && vmr(G_GDTR_BASE) == GADDR(g_gdt),
          "guest CS selector and GDTR base saved on exit");
    check(read_cr4() & CR4_VMXE, "host CR4.VMXE still set after the exits");
    {
        struct dtr hgdt;
        __asm__ volatile("sgdt %0" : "=m"(hgdt));
        uint16_t cs, tr;
        __asm__ volatile("mov %%cs, %0" : "=r"(cs));
        __asm__ volatile("str %0" : "=r"(tr));
        check(hgdt.base == (uint64_t)(uintptr_t)host_gdt && hgdt.limit == 0xffff &&
              cs == HOST_CS && tr == HOST_TR,
              "host GDTR (limit 0xffff), CS and TR loaded from the host-state area");
    }
    check(vmread_failures == 0, "all VMREADs succeed");

    /* ---- 11. leave VMX operation ---- */
    puts("[teardown]\n");
    check(vmclear(vmcs_pa) == 0, "VMCLEAR succeeds");
    check(vmptrst() == ~0ull, "no current VMCS after VMCLEAR");
    check(vmxoff() == 0, "VMXOFF succeeds");
    __asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() & ~CR4_VMXE) : "memory");
    check((read_cr4() & CR4_VMXE) == 0, "CR4.VMXE cleared after VMXOFF");
    finish();
}
