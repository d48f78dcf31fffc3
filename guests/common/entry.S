/*
 * hyperstep bare-metal guest entry.
 *
 * Multiboot v1 header + 32-bit protected-mode entry that switches to
 * 64-bit long mode with an identity map of the first 4 GiB (2 MiB pages),
 * then calls   void kmain(uint32_t magic, uint32_t mbinfo).
 */

        .set MB_MAGIC,    0x1BADB002
        .set MB_FLAGS,    0x00000002          /* bit 1: want memory info */
        .set MB_CHECKSUM, -(MB_MAGIC + MB_FLAGS)

        .set EXIT_PORT,   0xf4

        .section .multiboot, "a"
        .align 4
        .globl multiboot_header
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long MB_CHECKSUM

/* ------------------------------------------------------------------ */
        .section .text.entry, "ax"
        .code32
        .globl _start
        .type _start, @function
_start:
        cli
        cld
        movl    %eax, %edx              /* multiboot magic (rep stos uses eax) */
                                        /* ebx = multiboot info pointer        */

        /* Zero .bss (page tables, stack, C bss). */
        movl    $__bss_start, %edi
        movl    $__bss_end, %ecx
        subl    %edi, %ecx
        shrl    $2, %ecx
        xorl    %eax, %eax
        rep stosl

        movl    %edx, mb_magic
        movl    %ebx, mb_info

        lgdt    gdt_ptr

        /* PML4[0] -> PDPT */
        movl    $pdpt, %eax
        orl     $0x3, %eax              /* P | RW */
        movl    %eax, pml4
        movl    $0, pml4 + 4

        /* PDPT[0..3] -> PD0..PD3 */
        movl    $pd, %eax
        orl     $0x3, %eax
        movl    $pdpt, %edi
        movl    $4, %ecx
1:      movl    %eax, (%edi)
        movl    $0, 4(%edi)
        addl    $4096, %eax
        addl    $8, %edi
        loop    1b

        /* PD entries: 2048 x 2 MiB pages covering 0 .. 4 GiB */
        movl    $pd, %edi
        movl    $0x83, %eax             /* P | RW | PS */
        movl    $2048, %ecx
2:      movl    %eax, (%edi)
        movl    $0, 4(%edi)
        addl    $0x200000, %eax
        addl    $8, %edi
        loop    2b

        /* CR4.PAE */
        movl    %cr4, %eax
        orl     $0x20, %eax
        movl    %eax, %cr4

        movl    $pml4, %eax
        movl    %eax, %cr3

        /* EFER.LME */
        movl    $0xC0000080, %ecx
        rdmsr
        orl     $0x100, %eax
        wrmsr

        /* CR0.PG | CR0.WP | CR0.PE */
        movl    %cr0, %eax
        orl     $0x80010001, %eax
        movl    %eax, %cr0

        ljmp    $0x08, $start64

/* ------------------------------------------------------------------ */
        .code64
start64:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs

        movq    $stack_top, %rsp
        xorl    %ebp, %ebp

        movl    mb_magic(%rip), %edi
        movl    mb_info(%rip), %esi
        call    kmain

        /* kmain returned: exit_qemu(0) */
        movw    $EXIT_PORT, %dx
        xorl    %eax, %eax
        outl    %eax, %dx
3:      cli
        hlt
        jmp     3b
        .size _start, . - _start

/* ------------------------------------------------------------------ */
        .section .data
        .align 16
        .globl gdt
gdt:
        .quad   0x0000000000000000      /* 0x00 null */
        .quad   0x00AF9B000000FFFF      /* 0x08 64-bit code, DPL0, accessed */
        .quad   0x00CF93000000FFFF      /* 0x10 data, DPL0, accessed */
gdt_end:

        .align 4
        .word   0
gdt_ptr:
        .word   gdt_end - gdt - 1
        .long   gdt

        .globl mb_magic, mb_info
        .align 4
mb_magic:
        .long   0
mb_info:
        .long   0

/* ------------------------------------------------------------------ */
        .section .bss
        .align 4096
        .globl pml4, pdpt, pd
pml4:   .skip   4096
pdpt:   .skip   4096
pd:     .skip   4 * 4096
        .globl stack_bottom, stack_top
stack_bottom:
        .skip   65536
stack_top:

        .section .note.GNU-stack, "", @progbits
