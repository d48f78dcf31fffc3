/* hyperstep bare-metal guest library. */
#include "lib.h"

/* Keep GCC from turning the mem* loops below into calls to themselves. */
#define NO_LDP __attribute__((optimize("no-tree-loop-distribute-patterns")))

void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER: no interrupts */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB on */
    outb(COM1 + 0, 0x01);   /* DLL: divisor 1 = 115200 baud */
    outb(COM1 + 1, 0x00);   /* DLM */
    outb(COM1 + 3, 0x03);   /* LCR: 8N1, DLAB off */
    outb(COM1 + 2, 0xC7);   /* FCR: enable + clear FIFOs, 14-byte threshold */
    outb(COM1 + 4, 0x03);   /* MCR: DTR | RTS */
}

void putc(char c)
{
    /* Wait for THR empty (LSR bit 5), bounded so a broken UART cannot hang us. */
    for (uint32_t spins = 0; spins < 1000000; spins++) {
        if (inb(COM1 + 5) & 0x20)
            break;
    }
    outb(COM1, (uint8_t)c);
    outb(DEBUGCON_PORT, (uint8_t)c);
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static const char hexdigits[] = "0123456789abcdef";

void print_hex64(uint64_t v)
{
    putc('0');
    putc('x');
    for (int i = 60; i >= 0; i -= 4)
        putc(hexdigits[(v >> i) & 0xF]);
}

void print_udec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc(buf[--n]);
}

void print_dec(int64_t v)
{
    if (v < 0) {
        putc('-');
        print_udec((uint64_t)0 - (uint64_t)v);
    } else {
        print_udec((uint64_t)v);
    }
}

static void emit_padded(const char *s, int len, int width, char pad)
{
    for (int i = len; i < width; i++)
        putc(pad);
    for (int i = 0; i < len; i++)
        putc(s[i]);
}

void vprintk(const char *fmt, va_list ap)
{
    char buf[24];
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case '\0':
            return;
        case '%':
            putc('%');
            break;
        case 'c':
            putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            emit_padded(s, (int)strlen(s), width, ' ');
            break;
        }
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : (int64_t)va_arg(ap, int);
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            int n = 0;
            do {
                buf[n++] = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            if (v < 0)
                buf[n++] = '-';
            char tmp[24];
            for (int i = 0; i < n; i++)
                tmp[i] = buf[n - 1 - i];
            emit_padded(tmp, n, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'p': {
            uint64_t u;
            unsigned base = *fmt == 'u' ? 10 : 16;
            if (*fmt == 'p') {
                u = (uint64_t)(uintptr_t)va_arg(ap, void *);
                putc('0');
                putc('x');
            } else {
                u = lng ? va_arg(ap, uint64_t) : (uint64_t)va_arg(ap, unsigned);
            }
            int n = 0;
            do {
                buf[n++] = hexdigits[u % base];
                u /= base;
            } while (u);
            char tmp[24];
            for (int i = 0; i < n; i++)
                tmp[i] = buf[n - 1 - i];
            emit_padded(tmp, n, width, pad);
            break;
        }
        default:
            putc('%');
            putc(*fmt);
            break;
        }
    }
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

void exit_qemu(uint32_t code)
{
    outl(EXIT_PORT, code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

NO_LDP void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

NO_LDP void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

NO_LDP void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else {
        while (n--)
            dp[n] = sp[n];
    }
    return d;
}

NO_LDP int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

NO_LDP size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
