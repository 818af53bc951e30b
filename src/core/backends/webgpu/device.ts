/**
 * Getting a GPUDevice from the `webgpu` npm package (Dawn in Node), with the limits we use
 * requested explicitly, and failures turned into BackendErrors that say how to fix them.
 *
 * Adapter order ('auto'):
 * 1. a real GPU: Dawn's default backend (Vulkan / Metal / D3D12) at the core feature level, tried
 *    only where the machine shows a GPU device node (Linux: /dev/dri/renderD*, /dev/nvidia*), since
 *    probing Vulkan on a GPU-less machine prints Dawn warnings and finds nothing;
 * 2. Mesa's llvmpipe (a CPU rasteriser) through Dawn's OpenGL ES backend at the compatibility
 *    feature level, with EGL_PLATFORM=surfaceless (no display needed).
 * HIRE_WEBGPU_ADAPTER=gpu|llvmpipe (or the `adapter` option) forces one of the two.
 */
import fs from 'node:fs';
import {BackendError} from '../../errors.js';

export type AdapterChoice = 'auto' | 'gpu' | 'llvmpipe';

export interface GpuContext {
  device: GPUDevice;
  /** True when the adapter is a CPU implementation (llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
  /** e.g. "llvmpipe-llvm-15-0-6-256-bits (OpenGL ES 3.2 Mesa 22.3.6), compatibility". */
  description: string;
}

export const LLVMPIPE_PACKAGES = 'mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgles2';

const HOW_TO_FIX =
  `install Mesa (Debian/Ubuntu: apt-get install -y --no-install-recommends ${LLVMPIPE_PACKAGES}) ` +
  'so that Dawn can run on llvmpipe, or run on a machine with a GPU driver; EGL_PLATFORM=surfaceless is set ' +
  'automatically when unset';

/** Limits every kernel relies on; each is requested at the adapter's own maximum. */
const LIMITS: Array<keyof GPUSupportedLimits> = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupStorageSize',
];

/** The `webgpu` package's create(): a GPU instance for Dawn toggles such as 'backend=opengles'. */
export type CreateGpu = (options: string[]) => GPU;

async function loadDawn(): Promise<CreateGpu> {
  try {
    const mod = (await import('webgpu')) as {create: CreateGpu};
    return mod.create;
  } catch (error) {
    throw new BackendError(
      `the webgpu backend needs the "webgpu" npm package (Dawn for Node), which did not load: ${(error as Error).message}. ` +
        'Run npm install in the hire directory.',
      {cause: error},
    );
  }
}

/** Whether this machine exposes a GPU device node (Linux); elsewhere assume it may. */
function hasGpuNode(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch {
    // no /dev/dri
  }
  return fs.existsSync('/dev/nvidia0');
}

function isSoftware(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|softpipe/.test(text);
}

function describeAdapter(info: GPUAdapterInfo, featureLevel: string): string {
  const parts = [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  const desc = info.description && info.description !== parts ? ` (${info.description})` : '';
  return `${parts || 'unknown adapter'}${desc}, ${featureLevel}`;
}

/**
 * One Dawn instance per kind for the whole process, never released. This is the cause of the
 * aborts seen before (SIGSEGV / std::system_error / a glibc mutex assertion inside
 * InstanceBase::ProcessEvents): the `GPU` object returned by create() owns the native instance,
 * and devices do not keep it alive. Once JavaScript dropped it, the garbage collector freed the
 * instance while the binding's scheduled ProcessEvents still used it, at a moment that depended on
 * allocation patterns (hence "one buffer layout"). Holding the instance here fixes it.
 */
const instances = new Map<CreateGpu, Map<string, GPU>>();

function instance(create: CreateGpu, which: 'gpu' | 'llvmpipe'): GPU {
  let byKind = instances.get(create);
  if (!byKind) instances.set(create, (byKind = new Map()));
  let gpu = byKind.get(which);
  if (!gpu) {
    if (which === 'llvmpipe' && !process.env['EGL_PLATFORM']) process.env['EGL_PLATFORM'] = 'surfaceless';
    gpu = create(which === 'gpu' ? [] : ['backend=opengles']);
    byKind.set(which, gpu);
  }
  return gpu;
}

async function tryAdapter(create: CreateGpu, which: 'gpu' | 'llvmpipe'): Promise<GPUAdapter | null> {
  try {
    const gpu = instance(create, which);
    if (which === 'gpu') return await gpu.requestAdapter({featureLevel: 'core', powerPreference: 'high-performance'});
    return await gpu.requestAdapter({featureLevel: 'compatibility'});
  } catch {
    return null;
  }
}

/** The requested adapter, or a BackendError saying what is missing. */
async function pickAdapter(choice: AdapterChoice, create: CreateGpu): Promise<{adapter: GPUAdapter; featureLevel: string}> {
  if (choice === 'gpu' || (choice === 'auto' && hasGpuNode())) {
    const adapter = await tryAdapter(create, 'gpu');
    if (adapter && (choice === 'gpu' || !isSoftware(adapter.info))) return {adapter, featureLevel: 'core'};
    if (choice === 'gpu') throw new BackendError(`webgpu: Dawn found no GPU adapter (HIRE_WEBGPU_ADAPTER=gpu); ${HOW_TO_FIX}`);
  }
  const adapter = await tryAdapter(create, 'llvmpipe');
  if (adapter) return {adapter, featureLevel: 'compatibility'};
  throw new BackendError(`webgpu: Dawn found no adapter (no GPU, and no Mesa llvmpipe through OpenGL ES); ${HOW_TO_FIX}`);
}

export function adapterChoice(value: string | undefined): AdapterChoice {
  const v = value ?? process.env['HIRE_WEBGPU_ADAPTER'] ?? 'auto';
  if (v === 'auto' || v === 'gpu' || v === 'llvmpipe') return v;
  throw new BackendError(`HIRE_WEBGPU_ADAPTER must be auto, gpu or llvmpipe, not "${v}"`);
}

/**
 * A device with every limit in LIMITS raised to the adapter's maximum. `create` defaults to the
 * `webgpu` package's (tests pass a stand-in to check the errors).
 */
export async function openGpu(choice: AdapterChoice, create?: CreateGpu): Promise<GpuContext> {
  const {adapter, featureLevel} = await pickAdapter(choice, create ?? (await loadDawn()));
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({requiredLimits, label: 'hire'});
  } catch (error) {
    throw new BackendError(`webgpu: the adapter refused a device with our limits: ${(error as Error).message}`, {cause: error});
  }
  return {device, software: isSoftware(adapter.info), description: describeAdapter(adapter.info, featureLevel)};
}
