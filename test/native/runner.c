/* Host-side oracle for test/cpu/host-diff.test.ts: runs single x86-64 instructions natively.
 * stdin, one case per line: "<hex code bytes> rax rcx rdx rbx rbp rsi rdi r8 .. r15 rflags" (hex).
 * stdout, one line per case: "rax rcx rdx rbx rbp rsi rdi r8 .. r15 rflags" (hex).
 * The code must only use register/immediate operands and must not touch RSP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Layout: r[16] in SDM order (rax rcx rdx rbx rsp rbp rsi rdi r8..r15; r[4] unused), then rflags. */
struct state { uint64_t r[16]; uint64_t rflags; };
void *g_code;
void run_snippet(struct state *s);

__asm__(
  ".text\n"
  ".globl run_snippet\n"
  ".type run_snippet,@function\n"
  "run_snippet:\n"
  "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
  "  push %rdi\n"                       /* state pointer at (%rsp) */
  "  mov g_code(%rip), %rax\n"
  "  push %rax\n"                       /* code pointer at (%rsp), state at 8(%rsp) */
  "  pushq 128(%rdi)\n  popfq\n"
  "  mov 0(%rdi), %rax\n  mov 8(%rdi), %rcx\n  mov 16(%rdi), %rdx\n  mov 24(%rdi), %rbx\n"
  "  mov 40(%rdi), %rbp\n  mov 48(%rdi), %rsi\n"
  "  mov 64(%rdi), %r8\n  mov 72(%rdi), %r9\n  mov 80(%rdi), %r10\n  mov 88(%rdi), %r11\n"
  "  mov 96(%rdi), %r12\n  mov 104(%rdi), %r13\n  mov 112(%rdi), %r14\n  mov 120(%rdi), %r15\n"
  "  mov 56(%rdi), %rdi\n"
  "  call *(%rsp)\n"
  "  pushfq\n"
  "  push %rdi\n"
  "  mov 24(%rsp), %rdi\n"              /* stack: saved rdi, rflags, code ptr, state ptr */
  "  popq 56(%rdi)\n"
  "  popq 128(%rdi)\n"
  "  mov %rax, 0(%rdi)\n  mov %rcx, 8(%rdi)\n  mov %rdx, 16(%rdi)\n  mov %rbx, 24(%rdi)\n"
  "  mov %rbp, 40(%rdi)\n  mov %rsi, 48(%rdi)\n"
  "  mov %r8, 64(%rdi)\n  mov %r9, 72(%rdi)\n  mov %r10, 80(%rdi)\n  mov %r11, 88(%rdi)\n"
  "  mov %r12, 96(%rdi)\n  mov %r13, 104(%rdi)\n  mov %r14, 112(%rdi)\n  mov %r15, 120(%rdi)\n"
  "  add $16, %rsp\n"
  "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
  "  cld\n"
  "  ret\n"
  ".size run_snippet, .-run_snippet\n"
);

static const int ORDER[15] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

int main(void) {
  unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) { perror("mmap"); return 2; }
  g_code = page;
  static char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char *p = line;
    char *tok = strtok(p, " \t\r\n");
    if (!tok) continue;
    size_t n = strlen(tok) / 2;
    if (n == 0 || n > 15) { fprintf(stderr, "bad code %s\n", tok); return 2; }
    for (size_t i = 0; i < n; i++) { unsigned v; sscanf(tok + 2 * i, "%2x", &v); page[i] = (unsigned char)v; }
    page[n] = 0xc3; /* ret */
    struct state s; memset(&s, 0, sizeof s);
    for (int i = 0; i < 16; i++) {
      tok = strtok(NULL, " \t\r\n");
      if (!tok) { fprintf(stderr, "short line\n"); return 2; }
      uint64_t v = strtoull(tok, NULL, 16);
      if (i < 15) s.r[ORDER[i]] = v; else s.rflags = v;
    }
    __builtin___clear_cache((char *)page, (char *)page + n + 1);
    run_snippet(&s);
    for (int i = 0; i < 15; i++) printf("%llx ", (unsigned long long)s.r[ORDER[i]]);
    printf("%llx\n", (unsigned long long)s.rflags);
  }
  return 0;
}
