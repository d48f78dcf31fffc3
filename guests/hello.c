/* hello: the smallest guest. Expected output: "Hello from hyperstep!\n", exit code 0. */
#include "lib.h"

void kmain(uint32_t magic, uint32_t mbinfo)
{
    serial_init();
    puts("Hello from hyperstep!\n");
    exit_qemu(0);
}
