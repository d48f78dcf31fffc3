/*
 * Intel VT-x helpers for the bare-metal guest hypervisor tests (vmx-basic, vmx-fail).
 *
 * Everything lives in this header because build.sh compiles a fixed list of common
 * sources: the C helpers are static inline, and the assembly (vmx_run, vmx_exit_stub)
 * is a file-scope asm block.  Include it from exactly one C file per image.
 *
 * Flow (as in the VT-x tutorials): check CPUID.1:ECX.VMX, set up IA32_FEATURE_CONTROL,
 * read IA32_VMX_BASIC, fix CR0/CR4 with the FIXED0/FIXED1 MSRs and set CR4.VMXE, VMXON,
 * VMCLEAR + VMPTRLD a VMCS, fill in the controls (from the TRUE capability MSRs), the
 * guest-state and host-state areas, VMLAUNCH.  VM exits land in vmx_exit_stub (HOST_RIP)
 * on a separate host stack (HOST_RSP); it saves the guest GPRs, calls
 *     int vmx_exit_handler(struct vmx_gprs *regs);   (defined by the test)
 * and, if that returns nonzero, restores the GPRs and does VMRESUME.  If it returns 0,
 * vmx_run() returns 0 to its caller with the host's callee-saved registers restored.
 */
#ifndef HYPERSTEP_GUEST_VMX_H
#define HYPERSTEP_GUEST_VMX_H

#include "lib.h"
#include "idt.h"

/* ---- MSRs ---- */
#define MSR_IA32_FEATURE_CONTROL        0x3A
#define   FEATURE_CONTROL_LOCK          (1ull << 0)
#define   FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
#define MSR_IA32_SYSENTER_CS            0x174
#define MSR_IA32_VMX_BASIC              0x480
#define MSR_IA32_VMX_PINBASED_CTLS      0x481
#define MSR_IA32_VMX_PROCBASED_CTLS     0x482
#define MSR_IA32_VMX_EXIT_CTLS          0x483
#define MSR_IA32_VMX_ENTRY_CTLS         0x484
#define MSR_IA32_VMX_MISC               0x485
#define MSR_IA32_VMX_CR0_FIXED0         0x486
#define MSR_IA32_VMX_CR0_FIXED1         0x487
#define MSR_IA32_VMX_CR4_FIXED0         0x488
#define MSR_IA32_VMX_CR4_FIXED1         0x489
#define MSR_IA32_VMX_PROCBASED_CTLS2    0x48B
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48D
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48E
#define MSR_IA32_VMX_TRUE_EXIT_CTLS     0x48F
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS    0x490
#define MSR_FS_BASE                     0xC0000100
#define MSR_GS_BASE                     0xC0000101

#define CR4_VMXE                        (1ull << 13)

/* ---- Control bits ---- */
#define PROC_HLT_EXITING                (1u << 7)
#define PROC_UNCOND_IO_EXITING          (1u << 24)
#define PROC_USE_MSR_BITMAPS            (1u << 28)
#define PROC_ACTIVATE_SECONDARY         (1u << 31)
#define EXIT_HOST_ADDR_SPACE_SIZE       (1u << 9)
#define ENTRY_IA32E_MODE_GUEST          (1u << 9)

/* ---- VMCS field encodings (SDM Vol. 3 Appendix B) ---- */
enum vmcs_field {
    /* 16-bit guest state */
    GUEST_ES_SELECTOR = 0x0800, GUEST_CS_SELECTOR = 0x0802, GUEST_SS_SELECTOR = 0x0804,
    GUEST_DS_SELECTOR = 0x0806, GUEST_FS_SELECTOR = 0x0808, GUEST_GS_SELECTOR = 0x080A,
    GUEST_LDTR_SELECTOR = 0x080C, GUEST_TR_SELECTOR = 0x080E,
    /* 16-bit host state */
    HOST_ES_SELECTOR = 0x0C00, HOST_CS_SELECTOR = 0x0C02, HOST_SS_SELECTOR = 0x0C04,
    HOST_DS_SELECTOR = 0x0C06, HOST_FS_SELECTOR = 0x0C08, HOST_GS_SELECTOR = 0x0C0A,
    HOST_TR_SELECTOR = 0x0C0C,
    /* 64-bit controls */
    IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
    VM_EXIT_MSR_STORE_ADDR = 0x2006, VM_EXIT_MSR_LOAD_ADDR = 0x2008,
    VM_ENTRY_MSR_LOAD_ADDR = 0x200A, TSC_OFFSET = 0x2010,
    /* 64-bit guest state */
    VMCS_LINK_POINTER = 0x2800, GUEST_IA32_DEBUGCTL = 0x2802,
    /* 32-bit controls */
    PIN_BASED_VM_EXEC_CONTROL = 0x4000, CPU_BASED_VM_EXEC_CONTROL = 0x4002,
    EXCEPTION_BITMAP = 0x4004, PAGE_FAULT_ERROR_CODE_MASK = 0x4006,
    PAGE_FAULT_ERROR_CODE_MATCH = 0x4008, CR3_TARGET_COUNT = 0x400A,
    VM_EXIT_CONTROLS = 0x400C, VM_EXIT_MSR_STORE_COUNT = 0x400E,
    VM_EXIT_MSR_LOAD_COUNT = 0x4010, VM_ENTRY_CONTROLS = 0x4012,
    VM_ENTRY_MSR_LOAD_COUNT = 0x4014, VM_ENTRY_INTR_INFO = 0x4016,
    VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018, VM_ENTRY_INSTRUCTION_LEN = 0x401A,
    SECONDARY_VM_EXEC_CONTROL = 0x401E,
    /* 32-bit read-only data */
    VM_INSTRUCTION_ERROR = 0x4400, VM_EXIT_REASON = 0x4402,
    VM_EXIT_INTR_INFO = 0x4404, VM_EXIT_INSTRUCTION_LEN = 0x440C,
    /* 32-bit guest state */
    GUEST_ES_LIMIT = 0x4800, GUEST_CS_LIMIT = 0x4802, GUEST_SS_LIMIT = 0x4804,
    GUEST_DS_LIMIT = 0x4806, GUEST_FS_LIMIT = 0x4808, GUEST_GS_LIMIT = 0x480A,
    GUEST_LDTR_LIMIT = 0x480C, GUEST_TR_LIMIT = 0x480E,
    GUEST_GDTR_LIMIT = 0x4810, GUEST_IDTR_LIMIT = 0x4812,
    GUEST_ES_AR = 0x4814, GUEST_CS_AR = 0x4816, GUEST_SS_AR = 0x4818, GUEST_DS_AR = 0x481A,
    GUEST_FS_AR = 0x481C, GUEST_GS_AR = 0x481E, GUEST_LDTR_AR = 0x4820, GUEST_TR_AR = 0x4822,
    GUEST_INTERRUPTIBILITY = 0x4824, GUEST_ACTIVITY_STATE = 0x4826,
    GUEST_SYSENTER_CS = 0x482A,
    /* 32-bit host state */
    HOST_SYSENTER_CS = 0x4C00,
    /* natural-width controls */
    CR0_GUEST_HOST_MASK = 0x6000, CR4_GUEST_HOST_MASK = 0x6002,
    CR0_READ_SHADOW = 0x6004, CR4_READ_SHADOW = 0x6006,
    /* natural-width read-only data */
    EXIT_QUALIFICATION = 0x6400,
    /* natural-width guest state */
    GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
    GUEST_ES_BASE = 0x6806, GUEST_CS_BASE = 0x6808, GUEST_SS_BASE = 0x680A,
    GUEST_DS_BASE = 0x680C, GUEST_FS_BASE = 0x680E, GUEST_GS_BASE = 0x6810,
    GUEST_LDTR_BASE = 0x6812, GUEST_TR_BASE = 0x6814,
    GUEST_GDTR_BASE = 0x6816, GUEST_IDTR_BASE = 0x6818,
    GUEST_DR7 = 0x681A, GUEST_RSP = 0x681C, GUEST_RIP = 0x681E, GUEST_RFLAGS = 0x6820,
    GUEST_PENDING_DBG_EXCEPTIONS = 0x6822,
    GUEST_SYSENTER_ESP = 0x6824, GUEST_SYSENTER_EIP = 0x6826,
    /* natural-width host state */
    HOST_CR0 = 0x6C00, HOST_CR3 = 0x6C02, HOST_CR4 = 0x6C04,
    HOST_FS_BASE = 0x6C06, HOST_GS_BASE = 0x6C08, HOST_TR_BASE = 0x6C0A,
    HOST_GDTR_BASE = 0x6C0C, HOST_IDTR_BASE = 0x6C0E,
    HOST_SYSENTER_ESP = 0x6C10, HOST_SYSENTER_EIP = 0x6C12,
    HOST_RSP = 0x6C14, HOST_RIP = 0x6C16,
};

/* ---- Basic exit reasons ---- */
#define EXIT_REASON_EXCEPTION_NMI       0
#define EXIT_REASON_TRIPLE_FAULT        2
#define EXIT_REASON_CPUID               10
#define EXIT_REASON_HLT                 12
#define EXIT_REASON_VMCALL              18
#define EXIT_REASON_IO_INSTRUCTION      30
#define EXIT_REASON_MSR_READ            31
#define EXIT_REASON_MSR_WRITE           32
#define EXIT_REASON_INVALID_GUEST_STATE 33
#define EXIT_REASON_ENTRY_FAILURE       (1u << 31)

static inline const char *vmx_exit_reason_name(uint32_t basic)
{
    switch (basic) {
    case 0: return "exception or NMI";
    case 1: return "external interrupt";
    case 2: return "triple fault";
    case 10: return "CPUID";
    case 12: return "HLT";
    case 18: return "VMCALL";
    case 28: return "control-register access";
    case 30: return "I/O instruction";
    case 31: return "RDMSR";
    case 32: return "WRMSR";
    case 33: return "VM-entry failure: invalid guest state";
    case 34: return "VM-entry failure: MSR loading";
    default: return "?";
    }
}

/* ---- VMX instructions ----
 * The status of a VMX instruction (SDM 31.2): VMsucceed (CF=ZF=0), VMfailInvalid (CF=1),
 * VMfailValid (ZF=1, error number in the VM-instruction error field of the current VMCS). */
#define VMX_OK           0
#define VMX_FAIL_INVALID 1
#define VMX_FAIL_VALID   2

static inline int vmx_status(uint8_t cf, uint8_t zf)
{
    return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;
}

static inline int vmxon(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_status(cf, zf);
}

static inline int vmxoff(void)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
    return vmx_status(cf, zf);
}

static inline int vmclear(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_status(cf, zf);
}

static inline int vmptrld(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_status(cf, zf);
}

static inline int vmptrst(uint64_t *pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrst %2" : "=@ccc"(cf), "=@ccz"(zf), "=m"(*pa) : : "memory");
    return vmx_status(cf, zf);
}

static inline int vmread(uint64_t field, uint64_t *value)
{
    uint8_t cf, zf;
    uint64_t v = 0;
    __asm__ volatile("vmread %3, %0" : "+r"(v), "=@ccc"(cf), "=@ccz"(zf) : "r"(field) : "memory");
    *value = v;
    return vmx_status(cf, zf);
}

static inline int vmwrite(uint64_t field, uint64_t value)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "rm"(value), "r"(field) : "memory");
    return vmx_status(cf, zf);
}

/* VMREAD for the exit handler: the field is known to exist. */
static inline uint64_t vmr(uint64_t field)
{
    uint64_t v;
    vmread(field, &v);
    return v;
}

/* The VM-instruction error number of the current VMCS (0 if it cannot be read). */
static inline uint32_t vmx_instruction_error(void)
{
    uint64_t v;
    if (vmread(VM_INSTRUCTION_ERROR, &v) != VMX_OK)
        return 0;
    return (uint32_t)v;
}

/* ---- misc CPU helpers ---- */
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

struct __attribute__((packed)) vmx_dtr {
    uint16_t limit;
    uint64_t base;
};

static inline struct vmx_dtr vmx_sgdt(void)
{
    struct vmx_dtr d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d;
}

static inline struct vmx_dtr vmx_sidt(void)
{
    struct vmx_dtr d;
    __asm__ volatile("sidt %0" : "=m"(d));
    return d;
}

static inline uint16_t vmx_str(void)
{
    uint16_t s;
    __asm__ volatile("str %0" : "=r"(s));
    return s;
}

/* Write "Shutdown" to Bochs' shutdown port (other machines ignore port 0x8900). */
static inline void bochs_shutdown(void)
{
    const char *s = "Shutdown";
    while (*s)
        outb(0x8900, (uint8_t)*s++);
}

/* Print the summary line, stop Bochs, exit QEMU/hyperstep with 0 (all passed) or 1. */
static inline void __attribute__((noreturn)) vmx_finish(const char *name, int checks, int failures)
{
    if (failures)
        printk("%s: %d of %d checks FAILED\n", name, failures, checks);
    else
        printk("%s: all %d checks passed\n", name, checks);
    bochs_shutdown();
    exit_qemu(failures ? 1 : 0);
}

/* ---- GDT with a 64-bit TSS ----
 * entry.S's GDT has only null, 0x08 (code) and 0x10 (data); VM entry needs a usable TR in
 * the guest and a non-null TR selector in the host, so load our own GDT with a TSS at 0x18. */
#define VMX_SEL_CODE 0x08
#define VMX_SEL_DATA 0x10
#define VMX_SEL_TSS  0x18

struct __attribute__((packed)) vmx_tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

static struct vmx_tss64 vmx_tss __attribute__((aligned(16)));
static uint64_t vmx_gdt[5] __attribute__((aligned(16)));

static inline void vmx_setup_gdt_tss(void)
{
    uint64_t base = (uint64_t)(uintptr_t)&vmx_tss;
    uint64_t limit = sizeof(vmx_tss) - 1;

    memset(&vmx_tss, 0, sizeof(vmx_tss));
    vmx_tss.iomap_base = sizeof(vmx_tss);
    vmx_gdt[0] = 0;
    vmx_gdt[1] = 0x00AF9B000000FFFFull;        /* 0x08 64-bit code, DPL0, accessed */
    vmx_gdt[2] = 0x00CF93000000FFFFull;        /* 0x10 data, DPL0, accessed */
    vmx_gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                 (0x89ull << 40) |              /* present, DPL0, type 9: available 64-bit TSS */
                 (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    vmx_gdt[4] = base >> 32;
    struct vmx_dtr gdtr = { sizeof(vmx_gdt) - 1, (uint64_t)(uintptr_t)vmx_gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "ltr %w1"
                     : : "m"(gdtr), "r"((uint16_t)VMX_SEL_TSS) : "memory");
}

/* ---- capability helpers ---- */

/* Adjust CR0 and CR4 to the VMX fixed bits (SDM A.7, A.8); returns 1 if they changed. */
static inline int vmx_fix_cr0_cr4(int set_vmxe)
{
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    uint64_t ncr0 = (cr0 | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    uint64_t ncr4 = cr4 | (set_vmxe ? CR4_VMXE : 0);
    ncr4 = (ncr4 | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    if (!set_vmxe)
        ncr4 &= ~CR4_VMXE;
    if (ncr0 != cr0)
        write_cr0(ncr0);
    if (ncr4 != cr4)
        write_cr4(ncr4);
    return ncr0 != cr0 || ncr4 != cr4;
}

/* Do CR0/CR4 satisfy the fixed-bit MSRs? */
static inline int vmx_cr_fixed_ok(uint64_t cr0, uint64_t cr4)
{
    uint64_t f0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0), f1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    uint64_t g0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0), g1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    return (cr0 & f0) == f0 && (cr0 & ~f1) == 0 && (cr4 & g0) == g0 && (cr4 & ~g1) == 0;
}

/* Enable VMX in IA32_FEATURE_CONTROL if the BIOS left it unlocked; 1 if VMXON is allowed. */
static inline int vmx_feature_control(void)
{
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    return (fc & FEATURE_CONTROL_LOCK) && (fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX);
}

static inline uint32_t vmx_revision(void)
{
    return (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7FFFFFFF;
}

static inline int vmx_has_true_ctls(void)
{
    return (rdmsr(MSR_IA32_VMX_BASIC) >> 55) & 1;
}

/* A control value: (desired | allowed0) & allowed1 (SDM A.3 - A.5, 31.5.1). */
static inline uint32_t vmx_adjust_ctl(uint32_t desired, uint32_t msr)
{
    uint64_t caps = rdmsr(msr);
    return (desired | (uint32_t)caps) & (uint32_t)(caps >> 32);
}

/* The capability MSR to use for a group: TRUE_* when IA32_VMX_BASIC[55] says they exist. */
static inline uint32_t vmx_ctl_msr(uint32_t plain, uint32_t true_msr)
{
    return vmx_has_true_ctls() ? true_msr : plain;
}

/* ---- VM entry / exit glue ---- */

/* Guest GPRs as vmx_exit_stub pushes them (lowest address first). */
struct vmx_gprs {
    uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* Defined by the test.  Return nonzero to VMRESUME the guest, 0 to return from vmx_run(). */
int vmx_exit_handler(struct vmx_gprs *regs);

/*
 * vmx_run(launch): VMLAUNCH (launch != 0) or VMRESUME the current VMCS.  Returns
 *   0                 the exit handler returned 0 (the guest is done);
 *   VMX_FAIL_INVALID  VMLAUNCH/VMRESUME failed with VMfailInvalid;
 *   VMX_FAIL_VALID    VMLAUNCH/VMRESUME failed with VMfailValid (see VM_INSTRUCTION_ERROR);
 *   VMX_RESUME_FAILED | the above: the VMRESUME after a handled exit failed.
 */
#define VMX_RESUME_FAILED 0x10
int vmx_run(int launch);
extern char vmx_exit_stub[];

__asm__(
    "        .text\n"
    "        .globl vmx_run, vmx_exit_stub\n"
    "        .type vmx_run, @function\n"
    "vmx_run:\n"
    "        pushq   %rbp\n"
    "        pushq   %rbx\n"
    "        pushq   %r12\n"
    "        pushq   %r13\n"
    "        pushq   %r14\n"
    "        pushq   %r15\n"
    "        movq    %rsp, vmx_host_saved_rsp(%rip)\n"
    "        testl   %edi, %edi\n"
    "        jz      1f\n"
    "        vmlaunch\n"
    "        jmp     2f\n"
    "1:      vmresume\n"
    "2:      pushfq\n"
    "        popq    %rcx\n"
    "        xorl    %edx, %edx\n"
    "        jmp     vmx_failed\n"
    "        .size vmx_run, . - vmx_run\n"
    "\n"
    /* HOST_RIP: RSP = HOST_RSP (a 16-byte aligned host stack), RFLAGS = 0x2. */
    "        .align 16\n"
    "vmx_exit_stub:\n"
    "        pushq   %r15\n"
    "        pushq   %r14\n"
    "        pushq   %r13\n"
    "        pushq   %r12\n"
    "        pushq   %r11\n"
    "        pushq   %r10\n"
    "        pushq   %r9\n"
    "        pushq   %r8\n"
    "        pushq   %rdi\n"
    "        pushq   %rsi\n"
    "        pushq   %rbp\n"
    "        pushq   %rbx\n"
    "        pushq   %rdx\n"
    "        pushq   %rcx\n"
    "        pushq   %rax\n"
    "        movq    %rsp, %rdi\n"
    "        movq    %rsp, %rbx\n"
    "        andq    $-16, %rsp\n"
    "        cld\n"
    "        call    vmx_exit_handler\n"
    "        movq    %rbx, %rsp\n"
    "        testl   %eax, %eax\n"
    "        jz      vmx_stop\n"
    "        popq    %rax\n"
    "        popq    %rcx\n"
    "        popq    %rdx\n"
    "        popq    %rbx\n"
    "        popq    %rbp\n"
    "        popq    %rsi\n"
    "        popq    %rdi\n"
    "        popq    %r8\n"
    "        popq    %r9\n"
    "        popq    %r10\n"
    "        popq    %r11\n"
    "        popq    %r12\n"
    "        popq    %r13\n"
    "        popq    %r14\n"
    "        popq    %r15\n"
    "        vmresume\n"
    "        pushfq\n"
    "        popq    %rcx\n"
    "        movl    $0x10, %edx\n"
    /* rcx = RFLAGS after the failed VMLAUNCH/VMRESUME, edx = VMX_RESUME_FAILED or 0 */
    "vmx_failed:\n"
    "        movq    vmx_host_saved_rsp(%rip), %rsp\n"
    "        movl    $1, %eax\n"
    "        testl   $1, %ecx\n"
    "        jnz     3f\n"
    "        movl    $2, %eax\n"
    "3:      orl     %edx, %eax\n"
    "        jmp     4f\n"
    "vmx_stop:\n"
    "        movq    vmx_host_saved_rsp(%rip), %rsp\n"
    "        xorl    %eax, %eax\n"
    "4:      popq    %r15\n"
    "        popq    %r14\n"
    "        popq    %r13\n"
    "        popq    %r12\n"
    "        popq    %rbx\n"
    "        popq    %rbp\n"
    "        ret\n"
    "\n"
    "        .data\n"
    "        .align 8\n"
    "vmx_host_saved_rsp:\n"
    "        .quad   0\n"
    "        .text\n");

/* ---- VMCS set-up ---- */

struct vmx_config {
    uint32_t pin, proc, proc2, exit, entry;     /* adjusted control values */
    uint64_t msr_bitmap;                        /* physical address (if PROC_USE_MSR_BITMAPS) */
    uint64_t guest_rip, guest_rsp;
    uint64_t host_rsp;                          /* top of the exit-handler stack */
};

/* Write the controls, the guest-state area (a copy of this 64-bit kernel's state) and the
 * host-state area into the current VMCS.  Returns the number of VMWRITEs that failed. */
static inline int vmx_write_vmcs(const struct vmx_config *c)
{
    int bad = 0;
    uint64_t cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
    struct vmx_dtr gdtr = vmx_sgdt(), idtr = vmx_sidt();
    uint64_t tr_base = (uint64_t)(uintptr_t)&vmx_tss;
#define W(f, v) do { if (vmwrite((f), (uint64_t)(v)) != VMX_OK) { \
        printk("vmwrite 0x%x failed (error %u)\n", (unsigned)(f), vmx_instruction_error()); bad++; } \
    } while (0)

    /* VM-execution, VM-exit and VM-entry controls */
    W(PIN_BASED_VM_EXEC_CONTROL, c->pin);
    W(CPU_BASED_VM_EXEC_CONTROL, c->proc);
    if (c->proc & PROC_ACTIVATE_SECONDARY)
        W(SECONDARY_VM_EXEC_CONTROL, c->proc2);
    W(EXCEPTION_BITMAP, 0);
    W(PAGE_FAULT_ERROR_CODE_MASK, 0);
    W(PAGE_FAULT_ERROR_CODE_MATCH, 0);
    W(CR3_TARGET_COUNT, 0);
    W(TSC_OFFSET, 0);
    W(CR0_GUEST_HOST_MASK, 0);
    W(CR4_GUEST_HOST_MASK, 0);
    W(CR0_READ_SHADOW, cr0);
    W(CR4_READ_SHADOW, cr4);
    if (c->proc & PROC_USE_MSR_BITMAPS)
        W(MSR_BITMAP, c->msr_bitmap);
    W(VM_EXIT_CONTROLS, c->exit);
    W(VM_EXIT_MSR_STORE_COUNT, 0);
    W(VM_EXIT_MSR_LOAD_COUNT, 0);
    W(VM_ENTRY_CONTROLS, c->entry);
    W(VM_ENTRY_MSR_LOAD_COUNT, 0);
    W(VM_ENTRY_INTR_INFO, 0);
    W(VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
    W(VM_ENTRY_INSTRUCTION_LEN, 0);

    /* Guest-state area: the same flat 64-bit world as the host */
    W(GUEST_CR0, cr0);
    W(GUEST_CR3, cr3);
    W(GUEST_CR4, cr4);
    W(GUEST_DR7, 0x400);
    W(GUEST_RSP, c->guest_rsp);
    W(GUEST_RIP, c->guest_rip);
    W(GUEST_RFLAGS, 0x2);
    W(GUEST_CS_SELECTOR, VMX_SEL_CODE);
    W(GUEST_CS_BASE, 0);
    W(GUEST_CS_LIMIT, 0xFFFFFFFF);
    W(GUEST_CS_AR, 0xA09B);                     /* P, DPL0, code RX accessed, L=1, G=1 */
    static const uint32_t data_sel[5] = { GUEST_ES_SELECTOR, GUEST_SS_SELECTOR, GUEST_DS_SELECTOR,
                                          GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };
    for (int i = 0; i < 5; i++) {
        /* selector, limit, AR and base encodings step by 2 in the same order (ES CS SS DS FS GS) */
        uint32_t idx = (data_sel[i] - GUEST_ES_SELECTOR) / 2;
        W(data_sel[i], VMX_SEL_DATA);
        W(GUEST_ES_LIMIT + 2 * idx, 0xFFFFFFFF);
        W(GUEST_ES_AR + 2 * idx, 0xC093);       /* P, DPL0, data RW accessed, D/B=1, G=1 */
        W(GUEST_ES_BASE + 2 * idx, 0);
    }
    W(GUEST_LDTR_SELECTOR, 0);
    W(GUEST_LDTR_BASE, 0);
    W(GUEST_LDTR_LIMIT, 0);
    W(GUEST_LDTR_AR, 0x10000);                  /* unusable */
    W(GUEST_TR_SELECTOR, VMX_SEL_TSS);
    W(GUEST_TR_BASE, tr_base);
    W(GUEST_TR_LIMIT, sizeof(vmx_tss) - 1);
    W(GUEST_TR_AR, 0x8B);                       /* P, busy 64-bit TSS */
    W(GUEST_GDTR_BASE, gdtr.base);
    W(GUEST_GDTR_LIMIT, gdtr.limit);
    W(GUEST_IDTR_BASE, idtr.base);
    W(GUEST_IDTR_LIMIT, idtr.limit);
    W(GUEST_IA32_DEBUGCTL, 0);
    W(GUEST_SYSENTER_CS, 0);
    W(GUEST_SYSENTER_ESP, 0);
    W(GUEST_SYSENTER_EIP, 0);
    W(GUEST_INTERRUPTIBILITY, 0);
    W(GUEST_ACTIVITY_STATE, 0);
    W(GUEST_PENDING_DBG_EXCEPTIONS, 0);
    W(VMCS_LINK_POINTER, ~0ull);

    /* Host-state area */
    W(HOST_CR0, cr0);
    W(HOST_CR3, cr3);
    W(HOST_CR4, cr4);
    W(HOST_CS_SELECTOR, VMX_SEL_CODE);
    W(HOST_SS_SELECTOR, VMX_SEL_DATA);
    W(HOST_DS_SELECTOR, VMX_SEL_DATA);
    W(HOST_ES_SELECTOR, VMX_SEL_DATA);
    W(HOST_FS_SELECTOR, VMX_SEL_DATA);
    W(HOST_GS_SELECTOR, VMX_SEL_DATA);
    W(HOST_TR_SELECTOR, VMX_SEL_TSS);
    W(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    W(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    W(HOST_TR_BASE, tr_base);
    W(HOST_GDTR_BASE, gdtr.base);
    W(HOST_IDTR_BASE, idtr.base);
    W(HOST_SYSENTER_CS, 0);
    W(HOST_SYSENTER_ESP, 0);
    W(HOST_SYSENTER_EIP, 0);
    W(HOST_RSP, c->host_rsp);
    W(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
#undef W
    return bad;
}

/* An unexpected exception: report it, stop Bochs and exit (idt.c would hang Bochs). */
static inline void vmx_trap_hook(struct trap_frame *f)
{
    if (trap_resume)
        return;
    printk("UNEXPECTED exception vec=%lu err=0x%lx rip=0x%lx\n", f->vector, f->error, f->rip);
    bochs_shutdown();
    exit_qemu(1);
}

#endif
