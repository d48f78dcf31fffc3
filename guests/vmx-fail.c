/*
 * vmx-fail: the failure paths of the VMX instructions (SDM Vol. 3, chapter 31 and the
 * VM-instruction error numbers, 31.4).  Each line names the case and prints
 * "expected X, got Y: ok" (or ": FAIL"), where X/Y are VMsucceed, VMfailInvalid (CF=1),
 * VMfailValid(N) (ZF=1, VM-instruction error N), #UD, or a VM exit reason.  The last line
 * is "vmx-fail: all N checks passed".
 */
#include "lib.h"
#include "idt.h"
#include "vmx.h"

static int checks, failures;

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_a[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_badrev[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
static uint8_t host_exit_stack[16384] __attribute__((aligned(16)));

/* A VM-entry MSR-load area (SDM 25.8.2): 16 bytes per entry, MSR index in bits 31:0,
 * bits 63:32 reserved, the value in bits 127:64. */
struct vmx_msr_entry {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
};
static struct vmx_msr_entry entry_msr_load[2] __attribute__((aligned(16)));

/* The guest: halts (HLT exiting is on), and halts again if resumed. */
extern char fail_guest[];
__asm__(
    "        .text\n"
    "        .align 16\n"
    "fail_guest:\n"
    "        hlt\n"
    "        jmp     fail_guest\n");

#define EXIT_REASON_MSR_LOADING 34

static uint32_t last_exit_reason;
static uint64_t last_exit_qual;
static int exit_count;

int vmx_exit_handler(struct vmx_gprs *r)
{
    last_exit_reason = (uint32_t)vmr(VM_EXIT_REASON);
    last_exit_qual = vmr(EXIT_QUALIFICATION);
    exit_count++;
    return 0;   /* always back to kmain */
}

/* ---- result printing ---- */
#define R_UD     0x100   /* pseudo status: the instruction raised #UD */
#define R_EXIT   0x200   /* pseudo status: a VM exit (or VM-entry failure) reached HOST_RIP */
#define R_OTHER  0x300   /* some other exception */

static void print_result(int st, uint64_t detail)
{
    switch (st) {
    case VMX_OK: puts("VMsucceed"); break;
    case VMX_FAIL_INVALID: puts("VMfailInvalid"); break;
    case VMX_FAIL_VALID: printk("VMfailValid(%lu)", detail); break;
    case R_UD: puts("#UD"); break;
    case R_EXIT: printk("exit reason 0x%lx", detail); break;
    case R_OTHER: printk("exception %lu", detail); break;
    default: printk("status %d", st); break;
    }
}

static void expect(const char *name, int want, uint64_t want_detail, int got, uint64_t got_detail)
{
    int ok = got == want && (want == VMX_OK || want == VMX_FAIL_INVALID || want == R_UD ||
                             got_detail == want_detail);
    checks++;
    if (!ok)
        failures++;
    printk("%s: expected ", name);
    print_result(want, want_detail);
    puts(", got ");
    print_result(got, got_detail);
    puts(ok ? ": ok\n" : ": FAIL\n");
}

/* Status of a VMX instruction plus, for VMfailValid, the VM-instruction error. */
static uint64_t err_of(int st)
{
    return st == VMX_FAIL_VALID ? vmx_instruction_error() : 0;
}

static void expect_vmx(const char *name, int want, uint32_t want_err, int got)
{
    expect(name, want, want_err, got, err_of(got));
}

static void __attribute__((format(printf, 2, 3))) check_bool(int ok, const char *fmt, ...)
{
    va_list ap;
    checks++;
    if (!ok)
        failures++;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    puts(ok ? ": ok\n" : ": FAIL\n");
}

/* The outcome of an instruction wrapped in TRAP_ASM: #UD, another exception, or its status. */
static int trap_outcome(uint8_t cf, uint8_t zf, uint64_t *detail)
{
    *detail = 0;
    if (last_trap.hits) {
        uint64_t vec = last_trap.frame.vector;
        trap_reset();
        if (vec == 6)
            return R_UD;
        *detail = vec;
        return R_OTHER;
    }
    int st = vmx_status(cf, zf);
    *detail = err_of(st);
    return st;
}

static int vmxon_trapping(uint64_t pa, uint64_t *detail)
{
    uint8_t cf = 0, zf = 0;
    trap_reset();
    __asm__ volatile(TRAP_ASM("vmxon %[pa]")
                     : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(pa) : "r11", "memory");
    return trap_outcome(cf, zf, detail);
}

static int vmread_trapping(uint64_t field, uint64_t *detail)
{
    uint8_t cf = 0, zf = 0;
    uint64_t v = 0;
    trap_reset();
    __asm__ volatile(TRAP_ASM("vmread %[f], %[v]")
                     : [v] "+r"(v), "=@ccc"(cf), "=@ccz"(zf) : [f] "r"(field) : "r11", "memory");
    return trap_outcome(cf, zf, detail);
}

static int vmcall_trapping(uint64_t *detail)
{
    uint8_t cf = 0, zf = 0;
    trap_reset();
    __asm__ volatile(TRAP_ASM("vmcall") : "=@ccc"(cf), "=@ccz"(zf) : : "r11", "memory");
    return trap_outcome(cf, zf, detail);
}

static int vmxoff_trapping(uint64_t *detail)
{
    uint8_t cf = 0, zf = 0;
    trap_reset();
    __asm__ volatile(TRAP_ASM("vmxoff") : "=@ccc"(cf), "=@ccz"(zf) : : "r11", "memory");
    return trap_outcome(cf, zf, detail);
}

/*
 * vmx_launch_after_movss(): like vmx_run(1), but the VMLAUNCH directly follows a MOV to SS,
 * so events are blocked by MOV SS when it executes.  It shares vmx_run's exit path
 * (vmx_host_saved_rsp, vmx_failed) from common/vmx.h, so a VM entry that (wrongly) succeeds
 * still comes back here through vmx_exit_stub.
 */
int vmx_launch_after_movss(void);
__asm__(
    "        .text\n"
    "        .type vmx_launch_after_movss, @function\n"
    "vmx_launch_after_movss:\n"
    "        pushq   %rbp\n"
    "        pushq   %rbx\n"
    "        pushq   %r12\n"
    "        pushq   %r13\n"
    "        pushq   %r14\n"
    "        pushq   %r15\n"
    "        movq    %rsp, vmx_host_saved_rsp(%rip)\n"
    "        movw    %ss, %ax\n"
    "        movw    %ax, %ss\n"
    "        vmlaunch\n"
    "        pushfq\n"
    "        popq    %rcx\n"
    "        xorl    %edx, %edx\n"
    "        jmp     vmx_failed\n"
    "        .size vmx_launch_after_movss, . - vmx_launch_after_movss\n");

/* VMLAUNCH (launch=1), VMRESUME (launch=0), or VMLAUNCH right after MOV SS (launch=2);
 * returns R_EXIT with the exit reason, or the VMX status. */
static int enter(int launch, uint64_t *detail)
{
    exit_count = 0;
    last_exit_reason = 0;
    int st = launch == 2 ? vmx_launch_after_movss() : vmx_run(launch);
    if (st == 0) {
        *detail = last_exit_reason;
        return R_EXIT;
    }
    st &= 0xF;
    *detail = err_of(st);
    return st;
}

void kmain(uint32_t magic, uint32_t mbinfo)
{
    uint64_t d, v;
    int st;

    puts("vmx-fail: start\n");
    idt_init();
    trap_reset();
    trap_hook = vmx_trap_hook;

    uint32_t a, b, c, dx;
    cpuid(1, 0, &a, &b, &c, &dx);
    if (!((c >> 5) & 1)) {
        check_bool(0, "cpuid: vmx supported: no");
        vmx_finish("vmx-fail", checks, failures);
    }
    int fc = vmx_feature_control();
    check_bool(fc, "feature control: locked with vmx outside smx: %s", fc ? "yes" : "no");
    vmx_setup_gdt_tss();

    uint32_t rev = vmx_revision();
    uint64_t misc = rdmsr(MSR_IA32_VMX_MISC);
    uint64_t vmxon_pa = (uint64_t)(uintptr_t)vmxon_region;
    uint64_t vmcs_pa = (uint64_t)(uintptr_t)vmcs_a;
    *(uint32_t *)vmxon_region = rev;
    *(uint32_t *)vmcs_a = rev;
    *(uint32_t *)vmcs_badrev = (rev + 1) & 0x7FFFFFFF;

    /* ---- VMXON ---- */
    vmx_fix_cr0_cr4(0);                         /* CR0 fixed bits, but CR4.VMXE = 0 */
    st = vmxon_trapping(vmxon_pa, &d);
    expect("vmxon with cr4.vmxe=0", R_UD, 0, st, d);

    vmx_fix_cr0_cr4(1);
    st = vmxon_trapping(vmxon_pa + 4, &d);
    expect("vmxon with a misaligned pointer", VMX_FAIL_INVALID, 0, st, d);

    *(uint32_t *)vmxon_region = (rev + 1) & 0x7FFFFFFF;
    st = vmxon_trapping(vmxon_pa, &d);
    expect("vmxon with a wrong revision id", VMX_FAIL_INVALID, 0, st, d);
    *(uint32_t *)vmxon_region = rev;

    st = vmxon_trapping(vmxon_pa, &d);
    expect("vmxon", VMX_OK, 0, st, d);
    if (st != VMX_OK)
        vmx_finish("vmx-fail", checks, failures);

    /* ---- no current VMCS ---- */
    vmptrst(&v);
    check_bool(v == ~0ull, "vmptrst without a current vmcs: expected 0xffffffffffffffff, got 0x%lx", v);
    st = vmread(GUEST_RIP, &v);
    expect_vmx("vmread without a current vmcs", VMX_FAIL_INVALID, 0, st);
    st = enter(1, &d);
    expect("vmlaunch without a current vmcs", VMX_FAIL_INVALID, 0, st, d);
    st = vmxon_trapping(vmxon_pa, &d);
    expect("vmxon in vmx root operation, no current vmcs", VMX_FAIL_INVALID, 0, st, d);

    /* ---- with a current VMCS: VMfailValid ---- */
    st = vmclear(vmcs_pa);
    expect_vmx("vmclear", VMX_OK, 0, st);
    st = vmptrld(vmcs_pa);
    expect_vmx("vmptrld", VMX_OK, 0, st);

    st = vmxon_trapping(vmxon_pa, &d);
    expect("vmxon in vmx root operation", VMX_FAIL_VALID, 15, st, d);
    st = vmptrld((uint64_t)(uintptr_t)vmcs_badrev);
    expect_vmx("vmptrld with a wrong revision id", VMX_FAIL_VALID, 11, st);
    st = vmptrld(vmxon_pa);
    expect_vmx("vmptrld of the vmxon region", VMX_FAIL_VALID, 10, st);
    st = vmptrld(vmcs_pa + 0x10);
    expect_vmx("vmptrld with a misaligned pointer", VMX_FAIL_VALID, 9, st);
    st = vmclear(vmxon_pa);
    expect_vmx("vmclear of the vmxon region", VMX_FAIL_VALID, 3, st);
    st = vmclear(vmcs_pa + 0x10);
    expect_vmx("vmclear with a misaligned pointer", VMX_FAIL_VALID, 2, st);
    vmptrst(&v);
    check_bool(v == vmcs_pa, "vmptrst after the failed vmptrld/vmclear: current vmcs unchanged");

    st = vmread(0xFFFE, &v);
    expect_vmx("vmread of an unsupported field 0xfffe", VMX_FAIL_VALID, 12, st);
    st = vmwrite(0xFFFE, 0);
    expect_vmx("vmwrite of an unsupported field 0xfffe", VMX_FAIL_VALID, 12, st);

    /* VMWRITE to a read-only (exit information) field: error 13, unless IA32_VMX_MISC[29]
     * says VMWRITE may write any supported field. */
    st = vmwrite(VM_EXIT_REASON, 0);
    {
        int any = (misc >> 29) & 1;
        uint64_t e = err_of(st);
        int ok = any ? st == VMX_OK : (st == VMX_FAIL_VALID && e == 13);
        checks++;
        if (!ok)
            failures++;
        puts("vmwrite of the read-only exit reason: expected VMfailValid(13), or VMsucceed with "
             "IA32_VMX_MISC[29]");
        if (ok) {
            puts(": ok\n");
        } else {
            puts(", got ");
            print_result(st, e);
            puts(": FAIL\n");
        }
    }

    /* ---- VM entry failures ---- */
    struct vmx_config cfg;
    cfg.pin = vmx_adjust_ctl(0, vmx_ctl_msr(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS));
    cfg.proc = vmx_adjust_ctl(PROC_HLT_EXITING,
                              vmx_ctl_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS));
    cfg.proc2 = 0;
    cfg.exit = vmx_adjust_ctl(EXIT_HOST_ADDR_SPACE_SIZE,
                              vmx_ctl_msr(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS));
    cfg.entry = vmx_adjust_ctl(ENTRY_IA32E_MODE_GUEST,
                               vmx_ctl_msr(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS));
    cfg.msr_bitmap = 0;
    cfg.guest_rip = (uint64_t)(uintptr_t)fail_guest;
    cfg.guest_rsp = (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack));
    cfg.host_rsp = (uint64_t)(uintptr_t)(host_exit_stack + sizeof(host_exit_stack));
    int bad = vmx_write_vmcs(&cfg);
    check_bool(bad == 0 && (cfg.proc & PROC_HLT_EXITING), "vmcs: written, hlt exiting");

    st = enter(0, &d);
    expect("vmresume of a clear vmcs", VMX_FAIL_VALID, 5, st, d);

    /* VMLAUNCH while events are blocked by MOV SS fails before any other VM-entry check
     * (the VMCS is clear and valid here); the launch state stays clear. */
    st = enter(2, &d);
    expect("vmlaunch right after mov ss", VMX_FAIL_VALID, 26, st, d);

    /* Primary processor-based controls 0: violates the allowed-0 settings (the default1
     * bits 1, 4-6, 8, 13, 14 and 26 must be 1). */
    uint64_t proc_caps = rdmsr(vmx_ctl_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS));
    uint32_t bad_proc = (uint32_t)proc_caps ? 0 : ~(uint32_t)(proc_caps >> 32);
    vmwrite(CPU_BASED_VM_EXEC_CONTROL, bad_proc);
    st = enter(1, &d);
    expect("vmlaunch with invalid processor-based controls", VMX_FAIL_VALID, 7, st, d);
    vmwrite(CPU_BASED_VM_EXEC_CONTROL, cfg.proc);

    /* HOST_CR4 without VMXE: violates IA32_VMX_CR4_FIXED0 */
    vmwrite(HOST_CR4, read_cr4() & ~CR4_VMXE);
    st = enter(1, &d);
    expect("vmlaunch with host cr4.vmxe=0", VMX_FAIL_VALID, 8, st, d);
    vmwrite(HOST_CR4, read_cr4());

    /* Guest RFLAGS bit 1 clear: the VM entry fails after the host checks and "exits" to
     * HOST_RIP with exit reason 33 and bit 31 set. */
    vmwrite(GUEST_RFLAGS, 0);
    st = enter(1, &d);
    expect("vmlaunch with guest rflags=0", R_EXIT, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_INVALID_GUEST_STATE,
           st, d);
    check_bool(st == R_EXIT && last_exit_qual == 0,
               "  entry failure: exit qualification 0x%lx", st == R_EXIT ? last_exit_qual : 0);
    vmwrite(GUEST_RFLAGS, 0x2);

    /* The failed entry left the launch state clear: VMLAUNCH again runs the guest. */
    st = enter(1, &d);
    expect("vmlaunch after the failed entry", R_EXIT, EXIT_REASON_HLT, st, d);
    st = enter(1, &d);
    expect("vmlaunch of a launched vmcs", VMX_FAIL_VALID, 4, st, d);
    st = enter(0, &d);
    expect("vmresume of a launched vmcs", R_EXIT, EXIT_REASON_HLT, st, d);

    /* VMCALL in VMX root operation, outside SMM, with IA32_SMM_MONITOR_CTL[0] (valid) clear:
     * VMfailValid(1), checked before the launch state (which would give error 19).  Done
     * with the launched VMCS: Bochs 2.7 gives error 1 only in SMM and 19 here (with a clear
     * VMCS it panics, "VMCALL: not implemented yet"). */
    st = vmcall_trapping(&d);
    expect("vmcall in vmx root operation", VMX_FAIL_VALID, 1, st, d);

    /* A VM-entry MSR-load area whose second entry names an MSR that does not exist: the
     * VM entry fails after loading guest state and "exits" to HOST_RIP with exit reason 34
     * and bit 31 set; the exit qualification is the 1-based index of the failing entry.
     * Done with VMRESUME on the launched VMCS, so it does not depend on the launch state a
     * failed VMLAUNCH leaves behind.  (Bochs needs ignore_bad_msrs=0 to fail this entry.) */
    entry_msr_load[0].index = MSR_IA32_SYSENTER_CS;
    entry_msr_load[0].value = VMX_SEL_CODE;
    entry_msr_load[1].index = 0xc0000100; /* IA32_FS_BASE may not be loaded from the MSR-load area (SDM 26.4) */
    entry_msr_load[1].value = 0;
    vmwrite(VM_ENTRY_MSR_LOAD_ADDR, (uint64_t)(uintptr_t)entry_msr_load);
    vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 2);
    st = enter(0, &d);
    expect("vmresume with a bad vm-entry msr-load entry", R_EXIT,
           EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_MSR_LOADING, st, d);
    check_bool(st == R_EXIT && last_exit_qual == 2,
               "  entry failure: exit qualification 0x%lx", st == R_EXIT ? last_exit_qual : 0);
    vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);

    /* VMCLEAR of the current VMCS makes the current-VMCS pointer invalid. */
    st = vmclear(vmcs_pa);
    expect_vmx("vmclear of the current vmcs", VMX_OK, 0, st);
    vmptrst(&v);
    check_bool(v == ~0ull, "vmptrst after vmclear: expected 0xffffffffffffffff, got 0x%lx", v);

    /* ---- after VMXOFF ---- */
    st = vmxoff_trapping(&d);
    expect("vmxoff", VMX_OK, 0, st, d);
    st = vmread_trapping(GUEST_RIP, &d);
    expect("vmread after vmxoff", R_UD, 0, st, d);
    st = vmxoff_trapping(&d);
    expect("vmxoff after vmxoff", R_UD, 0, st, d);

    vmx_finish("vmx-fail", checks, failures);
}
