import {BackendError} from '../../errors.js';
import {HEAP_BASE} from './control.js';
import type {WasmMemory} from './wasm-api.js';

const PAGE = 65536;

/**
 * Bump allocator over a shared WebAssembly.Memory, growing it on demand. Memory is handed back
 * with mark()/reset(): take a mark before per-step scratch and reset to it afterwards.
 * WebAssembly memory never shrinks, so reset memory stays mapped and is reused by later
 * allocations rather than returned to the OS.
 */
export class SharedArena {
  private top = HEAP_BASE;
  /** Blocks given back by releaseLasting(), free for allocLasting(). */
  private readonly released: Array<{ptr: number; bytes: number}> = [];

  constructor(
    private readonly memory: WasmMemory,
    /** Hard limit in bytes (a multiple of 64 KiB, at most 4 GiB - 64 KiB). */
    readonly maxBytes: number,
  ) {}

  /** Bytes handed out and not reset (excludes the 64 KiB control page). */
  get bytes(): number {
    return this.top - HEAP_BASE;
  }

  /** Current size of the memory in bytes. */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  alloc(bytes: number, align = 64): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new BackendError(`alloc: size must be a non-negative integer, got ${bytes}`);
    }
    if (!Number.isSafeInteger(align) || align < 1 || align > PAGE || (align & (align - 1)) !== 0) {
      throw new BackendError(`alloc: align must be a power of two up to 65536, got ${align}`);
    }
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes;
    if (end > this.maxBytes) {
      throw new BackendError(
        `cpu backend out of memory: ${end - HEAP_BASE} bytes needed, limit ${this.maxBytes - HEAP_BASE}; ` +
          'raise maxBytes (at most 4 GiB - 64 KiB) or use smaller / quantized weights',
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch (cause) {
        throw new BackendError(
          `cpu backend could not grow its memory to ${end} bytes (${String(cause)}); free memory or lower maxBytes`,
          {cause},
        );
      }
    }
    this.top = end;
    return ptr;
  }

  /**
   * A block for a long-lived buffer that is given back with releaseLasting() (a KV cache): the
   * smallest released block of at least `bytes` (and at most twice that, so a small buffer does
   * not pin a large block), else a new one from alloc(). Never take a mark() across it.
   */
  allocLasting(bytes: number): number {
    let best = -1;
    for (let i = 0; i < this.released.length; i++) {
      const b = this.released[i]!;
      if (b.bytes >= bytes && b.bytes <= 2 * bytes && (best < 0 || b.bytes < this.released[best]!.bytes)) best = i;
    }
    if (best >= 0) return this.released.splice(best, 1)[0]!.ptr;
    return this.alloc(bytes, 64);
  }

  /** Gives back a block from allocLasting() (with the size it was asked for) for reuse. */
  releaseLasting(ptr: number, bytes: number): void {
    this.released.push({ptr, bytes});
  }

  /** The current allocation point, for reset(). */
  mark(): number {
    return this.top;
  }

  /** Releases everything allocated since `mark` was taken. */
  reset(mark: number): void {
    if (!Number.isSafeInteger(mark) || mark < HEAP_BASE || mark > this.top) {
      throw new BackendError(`reset: ${mark} is not a mark of this arena (valid: ${HEAP_BASE}..${this.top})`);
    }
    this.top = mark;
  }

  /** Throws unless [ptr, ptr + bytes) lies inside the allocated heap. */
  check(ptr: number, bytes: number, what: string): void {
    if (!Number.isSafeInteger(ptr) || ptr < HEAP_BASE || !(ptr + bytes <= this.top)) {
      throw new BackendError(
        `${what}: [${ptr}, ${ptr + bytes}) is outside the allocated memory [${HEAP_BASE}, ${this.top}); ` +
          'pass pointers returned by alloc() and sizes that fit them',
      );
    }
  }
}
