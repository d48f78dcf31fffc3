/*
 * 64-bit interrupt stubs for all 256 vectors.
 *
 * Each stub is 16 bytes long (isr_stubs + 16 * vector).  Vectors for which
 * the CPU does not push an error code push a fake 0, then every stub pushes
 * its vector number and jumps to isr_common, which saves all GPRs and calls
 *     void isr_dispatch(struct trap_frame *f);
 * The C code may modify the frame (e.g. f->rip) before it is restored and
 * IRETQ returns.
 */
        .section .text
        .code64

        .align 16
        .globl isr_stubs
isr_stubs:
        .set vec, 0
        .rept 256
        .align 16
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        /* CPU pushed an error code */
        .else
        pushq   $0
        .endif
        pushq   $vec
        jmp     isr_common
        .set vec, vec + 1
        .endr

        .align 16
isr_common:
        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        pushq   %rbx
        pushq   %rbp
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15

        movq    %rsp, %rbx              /* callee-saved: frame pointer */
        movq    %rsp, %rdi
        andq    $-16, %rsp
        cld
        call    isr_dispatch
        movq    %rbx, %rsp

        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rbp
        popq    %rbx
        popq    %rdx
        popq    %rcx
        popq    %rax
        addq    $16, %rsp               /* vector + error code */
        iretq

        .section .note.GNU-stack, "", @progbits
