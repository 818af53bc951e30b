/**
 * Compute pipelines, compiled once per (kernel, variant) and cached. A shader that fails to
 * compile is a bug in hire, reported as a BackendError with Dawn's message.
 */
import type {Activation} from '../../model/config.js';
import {BackendError} from '../../errors.js';
import {accumulateShader, embedShader, matvecShader} from './wgsl/matrix-kernels.js';
import {gemmShader} from './wgsl/block-kernels.js';
import {
  activationShader,
  ATT_OUT_SHADER,
  ATT_SCORES_SHADER,
  ATT_SOFTMAX_SHADER,
  binaryShader,
  normShader,
  ROPE_SHADER,
} from './wgsl/vector-kernels.js';
import {TOPK_APPLY_SHADER, TOPK_HIST_SHADER, TOPK_INIT_SHADER, TOPK_SCAN_SHADER, TOPK_SERIAL_SHADER, TOPK_TIES_SHADER} from './wgsl/topk-kernels.js';
import {TOPK_MERGE_SHADER, topkLocalSerialShader, topkLocalShader} from './wgsl/topk-list-kernels.js';
import type {GpuWeightKind} from './wgsl/weights.js';

export type FixedKernel =
  | 'rope'
  | 'attScores'
  | 'attSoftmax'
  | 'attOut'
  | 'topkInit'
  | 'topkHist'
  | 'topkScan'
  | 'topkTies'
  | 'topkApply'
  | 'topkSerial'
  | 'topkMerge';

/** Each fixed kernel's source and its binding names from binding 1 on (for dealias). */
const FIXED: Record<FixedKernel, [string, string[]]> = {
  rope: [ROPE_SHADER, ['X', 'CS']],
  attScores: [ATT_SCORES_SHADER, ['Q', 'Kn', 'Vn', 'K', 'V', 'Sc']],
  attSoftmax: [ATT_SOFTMAX_SHADER, ['Sc']],
  attOut: [ATT_OUT_SHADER, ['Sc', 'V', 'O']],
  topkInit: [TOPK_INIT_SHADER, ['X', 'St']],
  topkHist: [TOPK_HIST_SHADER, ['X', 'St']],
  topkScan: [TOPK_SCAN_SHADER, ['X', 'St']],
  topkTies: [TOPK_TIES_SHADER, ['X', 'St']],
  topkApply: [TOPK_APPLY_SHADER, ['X', 'St']],
  topkSerial: [TOPK_SERIAL_SHADER, ['X', 'St']],
  topkMerge: [TOPK_MERGE_SHADER, ['X', 'In', 'Out']],
};

/**
 * For each binding, the index of the first binding holding the same buffer (its own index when
 * none does). Dawn refuses two writable bindings of one buffer in a dispatch, so an output that
 * aliases an input gets a kernel variant in which both names are one binding.
 */
export function aliasPattern(buffers: readonly unknown[]): number[] {
  return buffers.map((b) => buffers.indexOf(b));
}

/** Rewrites a kernel for an alias pattern: drops the aliased declarations, renames their uses. */
function dealias(code: string, names: string[], alias: number[]): string {
  let out = code;
  alias.forEach((first, i) => {
    if (first === i) return;
    out = out.replace(new RegExp(`^@group\\(0\\) @binding\\(${i + 1}\\) var<storage, read_write> ${names[i]}:.*$`, 'm'), '');
    out = out.replace(new RegExp(`\\b${names[i]}\\b`, 'g'), names[first]!);
  });
  return out;
}

export class Pipelines {
  private readonly cache = new Map<string, GPUComputePipeline>();

  constructor(
    private readonly device: GPUDevice,
    /** Threads per matvec row (1 on llvmpipe). */
    readonly threadsPerRow: number,
    /** Threads of the one norm workgroup (1 on llvmpipe). */
    readonly normThreads: number,
  ) {}

  /** `alias` as from aliasPattern() over the kernel's bindings (e.g. attention with k and v one vector). */
  fixed(name: FixedKernel, alias: number[]): GPUComputePipeline {
    const [code, names] = FIXED[name];
    return this.get(`${name}-${alias}`, () => dealias(code, names, alias));
  }

  matvec(kind: GpuWeightKind, mode: 'dense' | 'rows'): GPUComputePipeline {
    return this.get(`matvec-${kind}-${mode}`, () => matvecShader(kind, mode, this.threadsPerRow));
  }

  /** The block matvec (four tokens a thread) for a dense matrix. */
  gemm(kind: 'f32' | 'f16' | 'bf16'): GPUComputePipeline {
    return this.get(`gemm-${kind}`, () => gemmShader(kind));
  }

  accumulate(kind: GpuWeightKind): GPUComputePipeline {
    return this.get(`accumulate-${kind}`, () => accumulateShader(kind));
  }

  embed(kind: GpuWeightKind): GPUComputePipeline {
    return this.get(`embed-${kind}`, () => embedShader(kind));
  }

  /** Bindings A, B, O; `alias` as from aliasPattern(). */
  binary(op: '+' | '*', alias: number[]): GPUComputePipeline {
    return this.get(`binary${op}-${alias}`, () => dealias(binaryShader(op), ['A', 'B', 'O'], alias));
  }

  /** Bindings X, O. */
  activation(kind: Activation, alias: number[]): GPUComputePipeline {
    return this.get(`act-${kind}-${alias}`, () => dealias(activationShader(kind), ['X', 'O'], alias));
  }

  /** Bindings X, Wt, O (, Bs). */
  norm(kind: 'rms' | 'layer', alias: number[]): GPUComputePipeline {
    return this.get(`norm-${kind}-${alias}`, () => dealias(normShader(kind, this.normThreads), ['X', 'Wt', 'O', 'Bs'], alias));
  }

  /**
   * topK's first stage, one workgroup of `threads` per chunk of `chunk` entries: bindings X, Out
   * (and Tmp with one thread: the serial select).
   */
  topkLocal(threads: number, chunk: number): GPUComputePipeline {
    return this.get(`topk-local-${threads}-${chunk}`, () => (threads === 1 ? topkLocalSerialShader(chunk) : topkLocalShader(threads, chunk)));
  }

  private get(key: string, source: () => string): GPUComputePipeline {
    let p = this.cache.get(key);
    if (!p) {
      try {
        const module = this.device.createShaderModule({code: source(), label: key});
        p = this.device.createComputePipeline({layout: 'auto', compute: {module, entryPoint: 'main'}, label: key});
      } catch (error) {
        throw new BackendError(`webgpu: kernel ${key} did not compile: ${(error as Error).message}`, {cause: error});
      }
      this.cache.set(key, p);
    }
    return p;
  }
}
