// Buffered byte output to a file descriptor, flushed at line ends and at exit, written
// synchronously so nothing is lost when the process exits with the guest's status.
import { closeSync, openSync, writeSync } from "node:fs";

export class FdOutput {
  private buf = Buffer.alloc(8192);
  private len = 0;
  constructor(private readonly fd: number, private readonly owned = false) {}

  static open(path: string): FdOutput { return new FdOutput(openSync(path, "w"), true); }

  readonly byte = (b: number): void => {
    this.buf[this.len++] = b;
    if (b === 10 || this.len === this.buf.length) this.flush();
  };

  write(s: string): void {
    const bytes = Buffer.from(s);
    if (this.len + bytes.length > this.buf.length) this.flush();
    if (bytes.length > this.buf.length) { writeAll(this.fd, bytes); return; }
    bytes.copy(this.buf, this.len);
    this.len += bytes.length;
  }

  flush(): void {
    if (this.len === 0) return;
    writeAll(this.fd, this.buf.subarray(0, this.len));
    this.len = 0;
  }

  close(): void {
    this.flush();
    if (this.owned) closeSync(this.fd);
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      if ((e as NodeJS.ErrnoException).code === "EPIPE") return;
      throw e;
    }
  }
}
