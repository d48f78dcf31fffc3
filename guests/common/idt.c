/* 64-bit IDT setup and the C side of the interrupt stubs. */
#include "idt.h"

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t reserved;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

extern char isr_stubs[];

volatile struct trap_record last_trap;
volatile uint64_t trap_resume;
volatile uint64_t trap_fault_rip;
void (*volatile trap_hook)(struct trap_frame *f);

void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        uint64_t a = (uint64_t)(uintptr_t)isr_stubs + 16u * (unsigned)v;
        idt[v].off_lo = (uint16_t)a;
        idt[v].sel = 0x08;
        idt[v].ist = 0;
        idt[v].type_attr = 0x8E;        /* present, DPL0, 64-bit interrupt gate */
        idt[v].off_mid = (uint16_t)(a >> 16);
        idt[v].off_hi = (uint32_t)(a >> 32);
        idt[v].reserved = 0;
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void trap_reset(void)
{
    memset((void *)&last_trap, 0, sizeof(last_trap));
}

void isr_dispatch(struct trap_frame *f)
{
    last_trap.hits++;
    memcpy((void *)&last_trap.frame, f, sizeof(*f));
    last_trap.cr2 = f->vector == 14 ? read_cr2() : 0;

    if (trap_hook)
        trap_hook(f);

    if (trap_resume) {
        f->rip = trap_resume;
        trap_resume = 0;
        return;
    }

    printk("UNEXPECTED exception vec=%lu err=0x%lx rip=0x%lx cs=0x%lx rflags=0x%lx cr2=0x%lx\n",
           f->vector, f->error, f->rip, f->cs, f->rflags, last_trap.cr2);
    exit_qemu(1);
}
