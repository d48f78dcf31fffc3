/*
 * vmx-bench: the nested VM-exit round trip, as a benchmark (bench/nested.ts).
 *
 * A bare-metal hypervisor (set up like vmx-basic) runs a 64-bit guest whose code is a tight
 * loop of BENCH_N CPUID instructions, then a VMCALL.  CPUID always exits (SDM 25.1.2), so each
 * iteration is one full round trip: VM exit -> vmx_exit_stub saves the guest GPRs -> the C
 * handler VMREADs the exit reason, the instruction length and GUEST_RIP, emulates CPUID with
 * fixed values, VMWRITEs GUEST_RIP + length -> the stub restores the GPRs -> VMRESUME.
 *
 * The guest mixes the returned registers into two accumulators (r9, r10; the loop counter is
 * r8 because CPUID clobbers rcx).  On the VMCALL the handler prints the number of CPUID exits
 * and the checksum r9 ^ r10, which the host recomputes.  Then VMCLEAR, VMXOFF, "Shutdown" to
 * Bochs' port 0x8900 and exit_qemu(0), like vmx-basic.
 *
 * Output is deterministic: no revision id, addresses or timings.
 */
#include "lib.h"
#include "idt.h"
#include "vmx.h"

#define BENCH_N 200000

#define XSTR(x) STR(x)
#define STR(x) #x

/* The CPUID values the handler returns (leaf 0: max leaf 0xd, vendor "hyperstepVMX"). */
#define BENCH_EAX 0x0000000du
#define BENCH_EBX 0x65707968u   /* "hype" */
#define BENCH_ECX 0x584d5670u   /* "pVMX" */
#define BENCH_EDX 0x65747372u   /* "rste" */

static int checks, failures;

static void __attribute__((format(printf, 2, 3))) check(int ok, const char *fmt, ...)
{
    va_list ap;
    checks++;
    if (!ok)
        failures++;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk(ok ? "\n" : " FAIL\n");
}

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
static uint8_t host_exit_stack[16384] __attribute__((aligned(16)));

/* ---- the guest ---- */
extern char guest_entry[], guest_cpuid[], guest_vmcall[];

__asm__(
    "        .text\n"
    "        .align 16\n"
    "guest_entry:\n"
    "        movl    $" XSTR(BENCH_N) ", %r8d\n"
    "        xorl    %r9d, %r9d\n"
    "        xorl    %r10d, %r10d\n"
    "1:      xorl    %eax, %eax\n"
    "        xorl    %ecx, %ecx\n"
    "guest_cpuid:\n"
    "        cpuid\n"                        /* exit 10 */
    "        addq    %rax, %r9\n"
    "        xorq    %rbx, %r9\n"
    "        rolq    $5, %r9\n"
    "        addq    %rcx, %r10\n"
    "        xorq    %rdx, %r10\n"
    "        rolq    $3, %r10\n"
    "        decl    %r8d\n"
    "        jnz     1b\n"
    "guest_vmcall:\n"
    "        vmcall\n"                       /* exit 18: done */
    "        ud2\n");

/* ---- the exit handler ---- */
static uint32_t cpuid_exits, bad_exits;
static int guest_done;
static uint64_t guest_checksum, guest_r8;

static inline uint64_t rol64(uint64_t x, unsigned n) { return (x << n) | (x >> (64 - n)); }

static uint64_t expected_checksum(void)
{
    uint64_t a = 0, b = 0;
    for (uint32_t i = 0; i < BENCH_N; i++) {
        a = rol64((a + BENCH_EAX) ^ BENCH_EBX, 5);
        b = rol64((b + BENCH_ECX) ^ BENCH_EDX, 3);
    }
    return a ^ b;
}

int vmx_exit_handler(struct vmx_gprs *r)
{
    uint32_t reason = (uint32_t)vmr(VM_EXIT_REASON);
    uint64_t len = vmr(VM_EXIT_INSTRUCTION_LEN);
    uint64_t rip = vmr(GUEST_RIP);

    if (reason == EXIT_REASON_CPUID) {
        if ((uint32_t)r->rax == 0) {
            r->rax = BENCH_EAX;
            r->rbx = BENCH_EBX;
            r->rcx = BENCH_ECX;
            r->rdx = BENCH_EDX;
        } else {
            r->rax = r->rbx = r->rcx = r->rdx = 0;
        }
        cpuid_exits++;
        if (len != 2)
            bad_exits++;
        vmwrite(GUEST_RIP, rip + len);
        return 1;
    }
    if (reason == EXIT_REASON_VMCALL && rip == (uint64_t)(uintptr_t)guest_vmcall) {
        guest_checksum = r->r9 ^ r->r10;
        guest_r8 = r->r8;
        guest_done = 1;
        return 0;
    }
    printk("exit: unexpected reason 0x%x (%s) len %lu at guest+0x%lx\n", reason,
           vmx_exit_reason_name(reason & 0xFFFF), len, rip - (uint64_t)(uintptr_t)guest_entry);
    bad_exits++;
    return 0;
}

/* ---- the hypervisor ---- */
void kmain(uint32_t magic, uint32_t mbinfo)
{
    uint32_t a, b, c, d;
    int st;

    puts("vmx-bench: start\n");
    idt_init();
    trap_reset();
    trap_hook = vmx_trap_hook;

    cpuid(1, 0, &a, &b, &c, &d);
    check((c >> 5) & 1, "cpuid: vmx supported: %s", (c >> 5) & 1 ? "yes" : "no");
    if (!((c >> 5) & 1))
        vmx_finish("vmx-bench", checks, failures);
    int fc_ok = vmx_feature_control();
    check(fc_ok, "feature control: locked with vmx outside smx: %s", fc_ok ? "yes" : "no");
    vmx_fix_cr0_cr4(1);
    vmx_setup_gdt_tss();

    uint32_t rev = vmx_revision();
    *(uint32_t *)vmxon_region = rev;
    st = vmxon((uint64_t)(uintptr_t)vmxon_region);
    check(st == VMX_OK, "vmxon: %s", st == VMX_OK ? "ok" : "failed");
    if (st != VMX_OK)
        vmx_finish("vmx-bench", checks, failures);
    uint64_t vmcs_pa = (uint64_t)(uintptr_t)vmcs_region;
    *(uint32_t *)vmcs_region = rev;
    st = vmclear(vmcs_pa);
    if (st == VMX_OK)
        st = vmptrld(vmcs_pa);
    check(st == VMX_OK, "vmclear, vmptrld: %s", st == VMX_OK ? "ok" : "failed");

    /* Controls: nothing beyond the required bits; CPUID and VMCALL exit unconditionally. */
    struct vmx_config cfg;
    cfg.pin = vmx_adjust_ctl(0, vmx_ctl_msr(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS));
    cfg.proc = vmx_adjust_ctl(0, vmx_ctl_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS));
    cfg.proc2 = 0;
    cfg.exit = vmx_adjust_ctl(EXIT_HOST_ADDR_SPACE_SIZE,
                              vmx_ctl_msr(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS));
    cfg.entry = vmx_adjust_ctl(ENTRY_IA32E_MODE_GUEST,
                               vmx_ctl_msr(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS));
    cfg.msr_bitmap = 0;
    cfg.guest_rip = (uint64_t)(uintptr_t)guest_entry;
    cfg.guest_rsp = (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack));
    cfg.host_rsp = (uint64_t)(uintptr_t)(host_exit_stack + sizeof(host_exit_stack));
    int bad = vmx_write_vmcs(&cfg);
    check(bad == 0, "vmcs: written%s", bad ? ": errors" : "");

    printk("vmlaunch: guest runs %u cpuid\n", (unsigned)BENCH_N);
    st = vmx_run(1);
    if (st != 0) {
        uint32_t err = vmx_instruction_error();
        check(0, "vmx_run: %s%s, instruction error %u", st & VMX_RESUME_FAILED ? "vmresume " : "vmlaunch ",
              (st & 0xF) == VMX_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", err);
    }
    check(guest_done && guest_r8 == 0 && cpuid_exits == BENCH_N && bad_exits == 0,
          "vmx-bench: %u cpuid exits", cpuid_exits);
    uint64_t want = expected_checksum();
    check(guest_checksum == want, "vmx-bench: checksum 0x%016lx", guest_checksum);

    st = vmclear(vmcs_pa);
    if (st == VMX_OK)
        st = vmxoff();
    check(st == VMX_OK, "vmclear, vmxoff: %s", st == VMX_OK ? "ok" : "failed");

    vmx_finish("vmx-bench", checks, failures);
}
