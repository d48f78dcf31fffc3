/* 64-bit IDT, trap recording and "resume at label" support for tests. */
#ifndef HYPERSTEP_GUEST_IDT_H
#define HYPERSTEP_GUEST_IDT_H

#include "lib.h"

/* Layout pushed by isr.S (lowest address first). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;  /* pushed by the CPU */
};

struct trap_record {
    int hits;                   /* number of traps since trap_reset() */
    struct trap_frame frame;    /* copy of the frame as the CPU delivered it */
    uint64_t cr2;               /* CR2 at the time of a #PF */
};

extern volatile struct trap_record last_trap;

/* If nonzero, the next trap resumes at this address (and it is cleared). */
extern volatile uint64_t trap_resume;
/* Address of the instruction the current TRAP_ASM block expects to trap. */
extern volatile uint64_t trap_fault_rip;
/* Optional hook called for every trap (before the resume logic). */
extern void (*volatile trap_hook)(struct trap_frame *f);

void idt_init(void);
void trap_reset(void);

/*
 * Wrap one instruction that is expected to trap: records its address in
 * trap_fault_rip and arranges for execution to resume right after it.
 * Clobbers r11 (add "r11" to the clobber list).
 */
#define TRAP_ASM(insn)                                  \
    "lea 8f(%%rip), %%r11\n\t"                          \
    "mov %%r11, trap_resume(%%rip)\n\t"                 \
    "lea 7f(%%rip), %%r11\n\t"                          \
    "mov %%r11, trap_fault_rip(%%rip)\n"                \
    "7:\t" insn "\n"                                    \
    "8:\n\t"                                            \
    "movq $0, trap_resume(%%rip)\n\t"

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

static inline void invlpg(uint64_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

#endif
