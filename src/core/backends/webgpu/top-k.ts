/**
 * Backend.topK's GPU side: queues the local stage and the merge rounds of
 * wgsl/topk-list-kernels.ts and owns their two ping-pong lists. Only the last list's first k
 * (id, value) pairs are meant to be read back.
 */
import {BackendError} from '../../errors.js';
import type {Pipelines} from './pipelines.js';
import {USAGE, type Binding, type Recorder} from './recorder.js';
import {WG} from './wgsl/matrix-kernels.js';

export interface TopKShape {
  /** Threads of a local-stage workgroup (1: the serial select). */
  threads: number;
  /** Entries of x per local-stage workgroup. */
  chunk: number;
}

/**
 * The local-stage shape: the given one, else 256 threads on 1024 entries on a GPU and one thread on
 * 2048 on llvmpipe; checked. One thread loops about 5 chunk + 9 min(k, chunk) times, and llvmpipe
 * silently stops a shader's loops after 65535 iterations in all: chunk <= 4096 stays under that.
 */
export function topKShape(given: Partial<TopKShape>, software: boolean): TopKShape {
  const threads = given.threads ?? (software ? 1 : 256);
  const chunk = given.chunk ?? (threads > 1 ? 4 * threads : software ? 2048 : 1024);
  const pow2 = (x: number) => Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;
  if (!pow2(threads) || !pow2(chunk) || chunk < 2 * threads || (threads === 1 && chunk > 4096)) {
    throw new BackendError(
      `webgpu: topKThreads ${threads} and topKChunk ${chunk} must be powers of two with topKChunk >= 2 * topKThreads (<= 4096 with one thread)`,
    );
  }
  return {threads, chunk};
}

export class GpuTopK {
  /** Two lists of (key, id) pairs, grown on demand. */
  private lists: [GPUBuffer, GPUBuffer] | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly rec: Recorder,
    private readonly pipes: Pipelines,
    private readonly shape: TopKShape,
    /** Takes ownership of a new buffer (the backend destroys it on dispose). */
    private readonly own: (b: GPUBuffer) => GPUBuffer,
    /** Hands back buffers that queued work may still use (destroyed after the next submit). */
    private readonly retire: (b: GPUBuffer[]) => void,
  ) {}

  /**
   * Queues topK of x[0, n) (1 <= k <= n); returns the buffer whose first k pairs will hold the
   * result as (id, value bits), best first.
   */
  queue(x: GPUBuffer, n: number, k: number): GPUBuffer {
    const {threads, chunk} = this.shape;
    // Every round's shape first, to size the lists: [lists, pairs per list].
    const rounds: Array<[number, number]> = [[Math.ceil(n / chunk), Math.min(k, chunk)]];
    while (rounds.at(-1)![0] > 1) {
      const [nl, m] = rounds.at(-1)!;
      rounds.push([Math.ceil(nl / 2), Math.min(2 * m, k)]);
    }
    let [src, dst] = this.listBuffers(Math.max(...rounds.map(([nl, m]) => nl * m)));
    const last = (r: number) => (r === rounds.length - 1 ? 1 : 0);
    const [nl0, m0] = rounds[0]!;
    const scratch: Array<[number, Binding]> = threads === 1 ? [[3, dst]] : []; // the serial select sorts through dst
    this.rec.dispatch(this.pipes.topkLocal(threads, chunk), Uint32Array.of(n, m0, last(0), 0), [[1, x], [2, src], ...scratch], this.rec.grid(nl0));
    for (let r = 1; r < rounds.length; r++) {
      const [[nl, m], [nlOut, mOut]] = [rounds[r - 1]!, rounds[r]!];
      const params = Uint32Array.of(n, m, last(r), nl, mOut);
      this.rec.dispatch(this.pipes.fixed('topkMerge', [0, 1, 2]), params, [[1, x], [2, src], [3, dst]], this.rec.grid(Math.ceil((nlOut * mOut) / WG)));
      [src, dst] = [dst, src];
    }
    return src;
  }

  /** The two lists, each of at least `pairs` pairs. */
  private listBuffers(pairs: number): [GPUBuffer, GPUBuffer] {
    const bytes = Math.max(16, pairs * 8);
    if (!this.lists || this.lists[0].size < bytes) {
      if (this.lists) this.retire(this.lists);
      const make = () => this.own(this.device.createBuffer({size: bytes, usage: USAGE.STORAGE | USAGE.COPY_SRC}));
      this.lists = [make(), make()];
    }
    return this.lists;
  }
}
