/**
 * Queues GPU work in call order and encodes it all into ONE command buffer at flush (read() calls
 * flush; a decode step therefore becomes one submit and one mapped read).
 *
 * Per-call data cannot go through queue.writeBuffer at call time: that write lands on the queue
 * before any command still waiting in the encoder, which may read the old contents. So each call's
 * uniform parameters and staged data (row index lists, RoPE tables, write() payloads) are kept on
 * the host and placed at flush into two arenas (a uniform buffer and a storage buffer), each slot
 * at its own aligned offset, written with one writeBuffer each just before the submit.
 */
import {BackendError} from '../../errors.js';

// WebGPU's usage and map-mode bits (fixed by the spec).
export const USAGE = {MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128} as const;
export const MAP_READ = 1;

/** Host data that flush() places in the storage arena; bound or copied from there. */
export class Staged {
  offset = 0;
  constructor(readonly data: Uint32Array) {}
}

export type Binding = GPUBuffer | Staged;

interface DispatchCmd {
  kind: 'dispatch';
  pipeline: GPUComputePipeline;
  params: Uint32Array;
  bindings: Array<[number, Binding]>;
  groups: [number, number];
}

interface CopyCmd {
  kind: 'copy';
  src: Binding;
  /** Byte offset in src (a GPUBuffer source only; a staged block starts at its own offset). */
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  size: number;
}

const PARAM_BYTES = 64;
const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export class Recorder {
  private cmds: Array<DispatchCmd | CopyCmd> = [];
  private paramArena: GPUBuffer | null = null;
  private dataArena: GPUBuffer | null = null;
  private readonly layouts = new Map<GPUComputePipeline, GPUBindGroupLayout>();
  private readonly paramAlign: number;
  private readonly dataAlign: number;
  private readonly maxGroups: number;

  constructor(private readonly device: GPUDevice) {
    this.paramAlign = Math.max(PARAM_BYTES, device.limits.minUniformBufferOffsetAlignment);
    this.dataAlign = Math.max(16, device.limits.minStorageBufferOffsetAlignment);
    this.maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  }

  get pending(): number {
    return this.cmds.length;
  }

  /** Workgroup grid [x, y] covering `groups` workgroups (kernels index gid.x + gid.y * nwg.x * wg). */
  grid(groups: number): [number, number] {
    const g = Math.max(1, groups);
    if (g <= this.maxGroups) return [g, 1];
    return [this.maxGroups, Math.ceil(g / this.maxGroups)];
  }

  dispatch(pipeline: GPUComputePipeline, params: Uint32Array, bindings: Array<[number, Binding]>, groups: [number, number]): void {
    if (params.length * 4 > PARAM_BYTES) throw new BackendError(`webgpu: ${params.length} parameter words exceed ${PARAM_BYTES / 4}`);
    this.cmds.push({kind: 'dispatch', pipeline, params, bindings, groups});
  }

  copy(src: Binding, dst: GPUBuffer, dstOffset: number, size: number, srcOffset = 0): void {
    this.cmds.push({kind: 'copy', src, srcOffset, dst, dstOffset, size});
  }

  /** Encodes and submits everything queued (one command buffer). */
  flush(): void {
    const cmds = this.cmds;
    this.cmds = [];
    if (cmds.length === 0) return;
    const {params, data} = this.fillArenas(cmds);
    const encoder = this.device.createCommandEncoder();
    let pass: GPUComputePassEncoder | null = null;
    let slot = 0;
    for (const c of cmds) {
      if (c.kind === 'copy') {
        pass?.end();
        pass = null;
        const [src, srcOffset] = c.src instanceof Staged ? [this.dataArena!, c.src.offset] : [c.src, c.srcOffset];
        encoder.copyBufferToBuffer(src, srcOffset, c.dst, c.dstOffset, c.size);
        continue;
      }
      pass ??= encoder.beginComputePass();
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, this.bindGroup(c, slot++ * this.paramAlign));
      pass.dispatchWorkgroups(c.groups[0], c.groups[1]);
    }
    pass?.end();
    const q = this.device.queue;
    if (params.byteLength) q.writeBuffer(this.paramArena!, 0, params);
    if (data.byteLength) q.writeBuffer(this.dataArena!, 0, data);
    q.submit([encoder.finish()]);
  }

  dispose(): void {
    this.cmds = [];
    this.paramArena?.destroy();
    this.dataArena?.destroy();
    this.paramArena = this.dataArena = null;
  }

  /** Lays out every dispatch's parameters and every staged block; grows the arenas to fit. */
  private fillArenas(cmds: Array<DispatchCmd | CopyCmd>): {params: Uint8Array; data: Uint8Array} {
    let nDispatch = 0;
    let dataBytes = 0;
    const staged = new Set<Staged>();
    const stage = (b: Binding) => {
      if (!(b instanceof Staged) || staged.has(b)) return;
      staged.add(b);
      b.offset = dataBytes;
      dataBytes += roundUp(Math.max(4, b.data.byteLength), this.dataAlign);
    };
    for (const c of cmds) {
      if (c.kind === 'copy') stage(c.src);
      else {
        nDispatch++;
        for (const [, b] of c.bindings) stage(b);
      }
    }
    const params = new Uint8Array(nDispatch * this.paramAlign);
    let slot = 0;
    for (const c of cmds) {
      if (c.kind === 'dispatch') params.set(new Uint8Array(c.params.buffer, c.params.byteOffset, c.params.byteLength), slot++ * this.paramAlign);
    }
    const data = new Uint8Array(dataBytes);
    for (const s of staged) data.set(new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength), s.offset);
    this.paramArena = this.ensure(this.paramArena, params.byteLength, USAGE.UNIFORM | USAGE.COPY_DST, 'hire params');
    this.dataArena = this.ensure(this.dataArena, data.byteLength, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, 'hire staged');
    return {params, data};
  }

  private ensure(buf: GPUBuffer | null, bytes: number, usage: number, label: string): GPUBuffer | null {
    if (bytes === 0 || (buf && buf.size >= bytes)) return buf;
    buf?.destroy(); // submitted work that still reads it keeps it alive until done
    return this.device.createBuffer({size: roundUp(Math.max(bytes * 2, 4096), 256), usage, label});
  }

  private bindGroup(c: DispatchCmd, paramOffset: number): GPUBindGroup {
    let layout = this.layouts.get(c.pipeline);
    if (!layout) {
      layout = c.pipeline.getBindGroupLayout(0);
      this.layouts.set(c.pipeline, layout);
    }
    const entries: GPUBindGroupEntry[] = [{binding: 0, resource: {buffer: this.paramArena!, offset: paramOffset, size: PARAM_BYTES}}];
    for (const [binding, b] of c.bindings) {
      const resource: GPUBufferBinding =
        b instanceof Staged
          ? {buffer: this.dataArena!, offset: b.offset, size: roundUp(Math.max(4, b.data.byteLength), 4)}
          : {buffer: b};
      entries.push({binding, resource});
    }
    return this.device.createBindGroup({layout, entries});
  }
}
