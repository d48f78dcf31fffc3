/* hyperstep bare-metal guest library: port I/O, serial output, printk, exit. */
#ifndef HYPERSTEP_GUEST_LIB_H
#define HYPERSTEP_GUEST_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

#define COM1            0x3F8
#define DEBUGCON_PORT   0xE9
#define EXIT_PORT       0xF4

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Optional: program COM1 like a real driver (115200 8N1, FIFO on). */
void serial_init(void);

void putc(char c);
void puts(const char *s);          /* no trailing newline added */
void print_hex64(uint64_t v);      /* "0x" + 16 hex digits */
void print_dec(int64_t v);
void print_udec(uint64_t v);

/*
 * Tiny printf: %s %c %d %i %u %x %p %% with optional 'l'/'ll' length,
 * optional '0' flag and width (e.g. %08x, %016lx).
 */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);

/* isa-debug-exit: QEMU exits with status (code << 1) | 1. Never returns. */
void exit_qemu(uint32_t code) __attribute__((noreturn));

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Entry-code symbols. */
extern uint64_t pml4[512];
extern uint64_t pdpt[512];
extern uint64_t pd[4 * 512];
extern uint32_t mb_magic, mb_info;
extern char __bss_start[], __bss_end[], _end[];

void kmain(uint32_t magic, uint32_t mbinfo);

#endif
