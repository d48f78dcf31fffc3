/* multiboot: prints what the loader passed (magic, info flags, command line, loader name,
 * memory map types), so the Multiboot entry state can be compared with QEMU's -kernel. The
 * values that depend on the RAM size match when both run with 256 MiB (-m 256, --mem 256). */
#include "lib.h"

struct mbi {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

void kmain(uint32_t magic, uint32_t mbinfo)
{
    const struct mbi *mb = (const struct mbi *)(uintptr_t)mbinfo;
    printk("magic=0x%x\n", magic);
    printk("flags&0x24f=0x%x\n", mb->flags & 0x24f);
    printk("mem_lower=%u mem_upper=%u\n", mb->mem_lower, mb->mem_upper);
    printk("cmdline=[%s]\n", (const char *)(uintptr_t)mb->cmdline);
    if (mb->flags & (1u << 9))
        printk("loader=[%s]\n", (const char *)(uintptr_t)mb->boot_loader_name);
    if (mb->flags & (1u << 6)) {
        uint32_t off = 0;
        while (off < mb->mmap_length) {
            const uint8_t *e = (const uint8_t *)(uintptr_t)(mb->mmap_addr + off);
            uint32_t size = *(const uint32_t *)e;
            uint64_t base = *(const uint64_t *)(e + 4);
            uint64_t len = *(const uint64_t *)(e + 12);
            uint32_t type = *(const uint32_t *)(e + 20);
            printk("mmap base=0x%lx len=0x%lx type=%u\n", base, len, type);
            off += size + 4;
        }
    }
    exit_qemu(0);
}
