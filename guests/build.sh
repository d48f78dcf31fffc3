#!/usr/bin/env bash
# Build the hyperstep bare-metal test guests.
#
#   guests/build/<name>.elf64  ELF64 multiboot image (loaded by hyperstep)
#   guests/build/<name>.elf    the same image converted to ELF32 (elf32-i386),
#                              which is what QEMU's -kernel multiboot loader wants
#
# Usage: bash guests/build.sh [guest...]   (default: all guests/*.c)
#
# Environment: CC, OBJCOPY, EXTRA_CFLAGS (e.g. -DMEASURE),
#              OUT (output directory, default guests/build)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

CC="${CC:-gcc}"
OBJCOPY="${OBJCOPY:-objcopy}"

for tool in "$CC" "$OBJCOPY"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "guests/build.sh: error: '$tool' not found; install gcc and binutils (apt-get install -y gcc binutils)" >&2
        exit 1
    fi
done

CFLAGS=(-O2 -ffreestanding -fno-pic -fno-pie -no-pie -nostdlib -mno-red-zone
        -mgeneral-regs-only -mno-sse -mno-mmx -mcmodel=small -fno-stack-protector
        -fno-asynchronous-unwind-tables -m64 -Wall -Wextra -Wno-unused-parameter
        -fno-builtin -std=gnu11 -Icommon ${EXTRA_CFLAGS:-})
LDFLAGS=(-nostdlib -no-pie -static -Wl,-T,common/link.ld -Wl,-z,max-page-size=0x1000
         -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments)

# Older linkers lack --no-warn-rwx-segments.
if ! "$CC" -Wl,--no-warn-rwx-segments -Wl,--version >/dev/null 2>&1; then
    LDFLAGS=("${LDFLAGS[@]/-Wl,--no-warn-rwx-segments}")
fi

OUT="${OUT:-build}"
mkdir -p "$OUT/obj"

COMMON_SRCS=(common/entry.S common/isr.S common/lib.c common/idt.c common/mmu.c)
COMMON_OBJS=()
for src in "${COMMON_SRCS[@]}"; do
    base="$(basename "$src")"
    obj="$OUT/obj/common_${base%.*}.o"
    "$CC" "${CFLAGS[@]}" -c "$src" -o "$obj"
    COMMON_OBJS+=("$obj")
done

if [ "$#" -gt 0 ]; then
    GUESTS=("$@")
else
    GUESTS=()
    for f in *.c; do GUESTS+=("${f%.c}"); done
fi

for name in "${GUESTS[@]}"; do
    objs=("$OUT/obj/${name}.o")
    "$CC" "${CFLAGS[@]}" -c "${name}.c" -o "$OUT/obj/${name}.o"
    # Optional per-guest assembly file: <name>_asm.S
    if [ -f "${name}_asm.S" ]; then
        "$CC" "${CFLAGS[@]}" -c "${name}_asm.S" -o "$OUT/obj/${name}_asm.o"
        objs+=("$OUT/obj/${name}_asm.o")
    fi
    "$CC" "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "$OUT/${name}.elf64" "${COMMON_OBJS[@]}" "${objs[@]}"
    "$OBJCOPY" -O elf32-i386 "$OUT/${name}.elf64" "$OUT/${name}.elf"
    echo "built $OUT/${name}.elf (+ .elf64)"
done
