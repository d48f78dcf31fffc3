#!/usr/bin/env bash
# Build the vendored third-party guest kernels (sources NOT written for hyperstep).
#
# Output (in guests/build/):
#   thirdparty-multiboot-kernel64.elf64  ELF64 as linked (higher-half, multiboot v1 header)
#   thirdparty-multiboot-kernel64.elf    same image re-framed as ELF32 (objcopy -O elf32-i386),
#                                        which is what QEMU's -kernel (multiboot v1) accepts
#   (the linker map goes to the object directory)
#
# The kernel's own Makefile (src/Makefile) is not used, only mirrored: it compiles main.c with -Os;
# we override that to -O2 and add the freestanding flags required by the project. The vendored
# sources themselves are unmodified (see multiboot-kernel64/HYPERSTEP-CHANGES.md).
#
# Needs only gcc + GNU binutils (as, ld, objcopy) for x86-64.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(cd "$here/.." && pwd)/build"
mkdir -p "$out"

CC="${CC:-gcc}"
AS="${AS:-as}"
LD="${LD:-ld}"
OBJCOPY="${OBJCOPY:-objcopy}"

# ---- multiboot-kernel64 (davmac314/multiboot-kernel64) ----------------------------------------
name=multiboot-kernel64
src="$here/$name/src"
obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT

CFLAGS=(
  -m64 -O2 -g
  -ffreestanding -mcmodel=kernel -mgeneral-regs-only
  -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -nostdlib
  -fcf-protection=none -fno-asynchronous-unwind-tables
)

"$AS" --64 -g -o "$obj/entry.o" "$src/entry.s"
"$CC" "${CFLAGS[@]}" -c "$src/main.c" -o "$obj/main.o"
# The linker script moves '.' backwards before .boot_bss on purpose; ld may warn about it
# ("dot moved backwards"), which the upstream linker script documents as harmless.
"$LD" -m elf_x86_64 -z noexecstack -T "$src/linkscript.ld" \
  "$obj/entry.o" "$obj/main.o" -o "$out/thirdparty-$name.elf64" -Map "$obj/thirdparty-$name.map"
"$OBJCOPY" -O elf32-i386 "$out/thirdparty-$name.elf64" "$out/thirdparty-$name.elf"

echo "built $out/thirdparty-$name.elf (and .elf64)"
