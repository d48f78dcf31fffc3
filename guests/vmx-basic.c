/*
 * vmx-basic: a tiny bare-metal hypervisor (Intel VT-x), happy path.
 *
 * Follows the flow of the VT-x tutorials: check VMX support, IA32_FEATURE_CONTROL,
 * IA32_VMX_BASIC, the CR0/CR4 fixed bits, VMXON, VMCLEAR/VMPTRLD/VMPTRST, the controls from
 * the TRUE capability MSRs, guest and host state, VMLAUNCH.  The guest (64-bit code in the
 * same identity map) runs CPUID 0x40000000, RDMSR 0x1B (exits through the MSR bitmap),
 * RDMSR 0x10 (does not exit), OUT 0x80 and IN from 0x71 (unconditional I/O exiting),
 * VMCALL and HLT.  The exit handler prints one line per exit, emulates the instruction and
 * advances the guest RIP; the guest cannot print itself (its port I/O exits), so it leaves its
 * results in registers and the VMCALL handler reports them.  HLT ends the guest; then
 * VMCLEAR, VMXOFF and the summary "vmx-basic: all N checks passed".
 *
 * Only facts that are the same on every correct implementation are printed: no revision id,
 * no raw capability MSR values, no addresses (guest RIPs are printed as guest+offset).
 */
#include "lib.h"
#include "idt.h"
#include "vmx.h"

static int checks, failures;

/* Print one line (fmt) and count it as a check; a failed check ends in " FAIL". */
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
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[4096] __attribute__((aligned(16)));
static uint8_t host_exit_stack[16384] __attribute__((aligned(16)));

/* ---- the guest ---- */
extern char guest_entry[], guest_cpuid[], guest_rdmsr_1b[], guest_rdmsr_10[], guest_out[],
    guest_in[], guest_vmcall[], guest_hlt[];

__asm__(
    "        .text\n"
    "        .align 16\n"
    "guest_entry:\n"
    "        movl    $0x40000000, %eax\n"
    "        xorl    %ecx, %ecx\n"
    "guest_cpuid:\n"
    "        cpuid\n"                        /* exit 10 */
    "        movl    %eax, %r15d\n"
    "        movl    %ebx, %r8d\n"
    "        movl    %ecx, %r9d\n"
    "        movl    %edx, %r10d\n"
    "        movl    $0x1b, %ecx\n"
    "guest_rdmsr_1b:\n"
    "        rdmsr\n"                        /* exit 31: the MSR bitmap has MSR 0x1b's read bit */
    "        shlq    $32, %rdx\n"
    "        orq     %rax, %rdx\n"
    "        movq    %rdx, %r11\n"
    "        movl    $0x10, %ecx\n"
    "guest_rdmsr_10:\n"
    "        rdmsr\n"                        /* no exit: IA32_TIME_STAMP_COUNTER */
    "        shlq    $32, %rdx\n"
    "        orq     %rax, %rdx\n"
    "        movq    %rdx, %r12\n"
    "        rdtsc\n"                        /* no exit either */
    "        shlq    $32, %rdx\n"
    "        orq     %rax, %rdx\n"
    "        movq    %rdx, %r13\n"
    "        movb    $0x5a, %al\n"
    "guest_out:\n"
    "        outb    %al, $0x80\n"           /* exit 30 */
    "        movw    $0x71, %dx\n"
    "        xorl    %eax, %eax\n"
    "guest_in:\n"
    "        inb     %dx, %al\n"             /* exit 30 */
    "        movl    %eax, %r14d\n"
    "        movl    $1, %eax\n"
    "guest_vmcall:\n"
    "        vmcall\n"                       /* exit 18: report */
    "guest_hlt:\n"
    "        hlt\n"                          /* exit 12: done */
    "        ud2\n"
    "        jmp     guest_hlt\n");

/* ---- the exit handler ---- */
#define CPUID_SIG_EBX 0x65707968u   /* "hype" */
#define CPUID_SIG_ECX 0x65747372u   /* "rste" */
#define CPUID_SIG_EDX 0x584d5670u   /* "pVMX" */
#define FAKE_APIC_BASE 0xfee00900ull

static const uint32_t expected_reasons[] = {
    EXIT_REASON_CPUID, EXIT_REASON_MSR_READ, EXIT_REASON_IO_INSTRUCTION,
    EXIT_REASON_IO_INSTRUCTION, EXIT_REASON_VMCALL, EXIT_REASON_HLT,
};
static const char *const expected_rip[] = {
    guest_cpuid, guest_rdmsr_1b, guest_out, guest_in, guest_vmcall, guest_hlt,
};
static const uint32_t expected_len[] = { 2, 2, 2, 1, 3, 1 };
#define N_EXITS (int)(sizeof(expected_reasons) / sizeof(expected_reasons[0]))

static int exits;
static int guest_done;

static void print_sig(uint32_t b, uint32_t c, uint32_t d)
{
    uint32_t w[3] = { b, c, d };
    putc('\'');
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            char ch = (char)(w[i] >> (8 * j));
            putc(ch >= 0x20 && ch < 0x7f ? ch : '.');
        }
    putc('\'');
}

static void report_guest(struct vmx_gprs *r)
{
    int ok = r->r15 == 0x40000000 && r->r8 == CPUID_SIG_EBX && r->r9 == CPUID_SIG_ECX &&
             r->r10 == CPUID_SIG_EDX;
    printk("  guest: cpuid 0x40000000 -> max leaf 0x%lx ", r->r15);
    print_sig((uint32_t)r->r8, (uint32_t)r->r9, (uint32_t)r->r10);
    check(ok, "%s", "");
    check(r->r11 == FAKE_APIC_BASE, "  guest: rdmsr 0x1b = 0x%lx", r->r11);
    uint64_t now;
    __asm__ volatile("rdtsc; shlq $32, %%rdx; orq %%rdx, %%rax" : "=a"(now) : : "rdx");
    check(r->r12 != 0 && r->r12 <= r->r13 && r->r13 <= now,
          "  guest: rdmsr 0x10 did not exit, tsc ordered: %s",
          r->r12 != 0 && r->r12 <= r->r13 && r->r13 <= now ? "yes" : "no");
    check(r->r14 == 0x42, "  guest: in port 0x71 = 0x%lx", r->r14);
}

int vmx_exit_handler(struct vmx_gprs *r)
{
    uint32_t reason = (uint32_t)vmr(VM_EXIT_REASON);
    uint64_t qual = vmr(EXIT_QUALIFICATION);
    uint32_t len = (uint32_t)vmr(VM_EXIT_INSTRUCTION_LEN);
    uint64_t rip = vmr(GUEST_RIP);
    uint32_t basic = reason & 0xFFFF;
    int n = exits++;

    if (n >= N_EXITS || reason != expected_reasons[n]) {
        check(0, "exit: reason 0x%x (%s) qualification 0x%lx at guest+0x%lx: unexpected",
              reason, vmx_exit_reason_name(basic), qual, rip - (uint64_t)(uintptr_t)guest_entry);
        return 0;
    }
    check(len == expected_len[n] && rip == (uint64_t)(uintptr_t)expected_rip[n],
          "exit: reason %u (%s) len %u at guest+0x%lx", basic, vmx_exit_reason_name(basic), len,
          rip - (uint64_t)(uintptr_t)guest_entry);

    switch (basic) {
    case EXIT_REASON_CPUID: {
        uint32_t leaf = (uint32_t)r->rax, sub = (uint32_t)r->rcx;
        if (leaf == 0x40000000) {
            r->rax = 0x40000000;
            r->rbx = CPUID_SIG_EBX;
            r->rcx = CPUID_SIG_ECX;
            r->rdx = CPUID_SIG_EDX;
        } else {
            uint32_t a, b, c, d;
            cpuid(leaf, sub, &a, &b, &c, &d);
            r->rax = a; r->rbx = b; r->rcx = c; r->rdx = d;
        }
        check(leaf == 0x40000000 && sub == 0, "  cpuid: leaf 0x%x subleaf 0x%x emulated", leaf, sub);
        break;
    }
    case EXIT_REASON_MSR_READ: {
        uint32_t msr = (uint32_t)r->rcx;
        uint64_t v = msr == 0x1b ? FAKE_APIC_BASE : rdmsr(msr);
        r->rax = (uint32_t)v;
        r->rdx = v >> 32;
        check(msr == 0x1b && qual == 0, "  rdmsr: msr 0x%x, returning 0x%lx", msr, v);
        break;
    }
    case EXIT_REASON_IO_INSTRUCTION: {
        /* Exit qualification (SDM Table 28-5): 2:0 size-1, 3 direction (1 = IN), 4 string,
         * 5 REP, 6 operand encoding (0 = DX, 1 = immediate), 31:16 port. */
        unsigned size = (unsigned)(qual & 7) + 1, in = (qual >> 3) & 1, str = (qual >> 4) & 1;
        unsigned imm = (qual >> 6) & 1, port = (unsigned)(qual >> 16) & 0xFFFF;
        if (in) {
            r->rax = (r->rax & ~0xFFull) | 0x42;
            check(port == 0x71 && size == 1 && !str && !imm,
                  "  io: in port 0x%x size %u (%s), returning 0x42", port, size, imm ? "imm" : "dx");
        } else {
            check(port == 0x80 && size == 1 && !str && imm && (r->rax & 0xFF) == 0x5a,
                  "  io: out port 0x%x size %u (%s) value 0x%lx", port, size, imm ? "imm" : "dx",
                  r->rax & 0xFF);
        }
        break;
    }
    case EXIT_REASON_VMCALL:
        check(r->rax == 1 && qual == 0, "  vmcall: rax %lu (report)", r->rax);
        report_guest(r);
        r->rax = 0;
        break;
    case EXIT_REASON_HLT:
        check(qual == 0, "  hlt: guest done");
        guest_done = 1;
        return 0;
    }
    vmwrite(GUEST_RIP, rip + len);
    return 1;
}

/* ---- the hypervisor ---- */
void kmain(uint32_t magic, uint32_t mbinfo)
{
    uint32_t a, b, c, d;
    uint64_t v;
    int st;

    puts("vmx-basic: start\n");
    idt_init();
    trap_reset();
    trap_hook = vmx_trap_hook;

    /* 1. CPUID.1:ECX.VMX[bit 5] */
    cpuid(1, 0, &a, &b, &c, &d);
    check((c >> 5) & 1, "cpuid: vmx supported: %s", (c >> 5) & 1 ? "yes" : "no");
    if (!((c >> 5) & 1))
        vmx_finish("vmx-basic", checks, failures);

    /* 2. IA32_FEATURE_CONTROL: lock with VMX outside SMX enabled */
    int fc_ok = vmx_feature_control();
    check(fc_ok, "feature control: locked with vmx outside smx: %s", fc_ok ? "yes" : "no");

    /* 3. IA32_VMX_BASIC; CR0/CR4 fixed bits; CR4.VMXE */
    uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
    uint32_t rev = (uint32_t)basic & 0x7FFFFFFF;
    unsigned region = (unsigned)(basic >> 32) & 0x1FFF;
    int wb = ((basic >> 50) & 0xF) == 6, truectl = (basic >> 55) & 1;
    check(region > 0 && region <= 4096 && !((uint32_t)basic >> 31) && wb,
          "basic: region size %u, wb memory type: %s, true controls: %s", region,
          wb ? "yes" : "no", truectl ? "yes" : "no");
    vmx_fix_cr0_cr4(1);
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    check(vmx_cr_fixed_ok(cr0, cr4) && (cr4 & CR4_VMXE) && (cr0 & (1u << 5)),
          "cr0/cr4: fixed bits satisfied: %s, cr0.ne: %s, cr4.vmxe: %s",
          vmx_cr_fixed_ok(cr0, cr4) ? "yes" : "no", cr0 & (1u << 5) ? "yes" : "no",
          cr4 & CR4_VMXE ? "yes" : "no");

    /* The host needs a TR: our own GDT with a 64-bit TSS at 0x18 */
    vmx_setup_gdt_tss();
    check(vmx_str() == VMX_SEL_TSS, "gdt: tss loaded, tr 0x%x", vmx_str());

    /* 4. VMXON */
    *(uint32_t *)vmxon_region = rev;
    st = vmxon((uint64_t)(uintptr_t)vmxon_region);
    check(st == VMX_OK, "vmxon: %s", st == VMX_OK ? "ok" : "failed");
    if (st != VMX_OK)
        vmx_finish("vmx-basic", checks, failures);

    /* 5. VMCLEAR, VMPTRLD, VMPTRST */
    uint64_t vmcs_pa = (uint64_t)(uintptr_t)vmcs_region;
    *(uint32_t *)vmcs_region = rev;
    st = vmclear(vmcs_pa);
    check(st == VMX_OK, "vmclear: %s", st == VMX_OK ? "ok" : "failed");
    st = vmptrld(vmcs_pa);
    check(st == VMX_OK, "vmptrld: %s", st == VMX_OK ? "ok" : "failed");
    uint64_t cur = 0;
    vmptrst(&cur);
    check(cur == vmcs_pa, "vmptrst: %s", cur == vmcs_pa ? "matches" : "differs");

    /* 6. Controls */
    uint32_t want_proc = PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING | PROC_USE_MSR_BITMAPS |
                         PROC_ACTIVATE_SECONDARY;
    struct vmx_config cfg;
    cfg.pin = vmx_adjust_ctl(0, vmx_ctl_msr(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS));
    cfg.proc = vmx_adjust_ctl(want_proc,
                              vmx_ctl_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS));
    cfg.proc2 = (cfg.proc & PROC_ACTIVATE_SECONDARY) ? vmx_adjust_ctl(0, MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
    cfg.exit = vmx_adjust_ctl(EXIT_HOST_ADDR_SPACE_SIZE,
                              vmx_ctl_msr(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS));
    cfg.entry = vmx_adjust_ctl(ENTRY_IA32E_MODE_GUEST,
                               vmx_ctl_msr(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS));
    if ((cfg.proc & want_proc) == want_proc) {
        check(1, "controls: hlt-exiting msr-bitmaps io-exiting");
    } else {
        check(0, "controls: missing%s%s%s%s",
              cfg.proc & PROC_HLT_EXITING ? "" : " hlt-exiting",
              cfg.proc & PROC_USE_MSR_BITMAPS ? "" : " msr-bitmaps",
              cfg.proc & PROC_UNCOND_IO_EXITING ? "" : " io-exiting",
              cfg.proc & PROC_ACTIVATE_SECONDARY ? "" : " secondary");
    }
    check((cfg.exit & EXIT_HOST_ADDR_SPACE_SIZE) && (cfg.entry & ENTRY_IA32E_MODE_GUEST),
          "controls: exit host-address-space-size %s, entry ia32e-mode-guest %s",
          cfg.exit & EXIT_HOST_ADDR_SPACE_SIZE ? "yes" : "no",
          cfg.entry & ENTRY_IA32E_MODE_GUEST ? "yes" : "no");

    /* MSR bitmap: read-low bitmap at offset 0 covers MSRs 0..0x1fff; only 0x1b exits */
    memset(msr_bitmap, 0, sizeof(msr_bitmap));
    msr_bitmap[0x1b / 8] |= 1u << (0x1b % 8);
    cfg.msr_bitmap = (uint64_t)(uintptr_t)msr_bitmap;

    /* 7./8. Guest and host state */
    cfg.guest_rip = (uint64_t)(uintptr_t)guest_entry;
    cfg.guest_rsp = (uint64_t)(uintptr_t)(guest_stack + sizeof(guest_stack));
    cfg.host_rsp = (uint64_t)(uintptr_t)(host_exit_stack + sizeof(host_exit_stack));
    int bad = vmx_write_vmcs(&cfg);
    check(bad == 0, "vmcs: controls, guest state and host state written%s", bad ? ": errors" : "");
    st = vmread(GUEST_CS_AR, &v);
    check(st == VMX_OK && v == 0xA09B, "vmread: guest cs access rights 0x%lx", v);

    /* 9. VMLAUNCH; the exit handler runs until the guest's HLT */
    puts("vmlaunch\n");
    st = vmx_run(1);
    if (st != 0) {
        uint32_t err = vmx_instruction_error();
        check(0, "vmx_run: %s%s, instruction error %u", st & VMX_RESUME_FAILED ? "vmresume " : "vmlaunch ",
              (st & 0xF) == VMX_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", err);
    }
    check(guest_done && exits == N_EXITS, "guest: finished after %d exits", exits);

    /* 10. VMCLEAR, VMXOFF */
    st = vmclear(vmcs_pa);
    check(st == VMX_OK, "vmclear: %s", st == VMX_OK ? "ok" : "failed");
    st = vmxoff();
    check(st == VMX_OK, "vmxoff: %s", st == VMX_OK ? "ok" : "failed");

    vmx_finish("vmx-basic", checks, failures);
}
