/**
 * The few WebAssembly JS API types this folder uses. The project's lib (ES2022, no DOM) and
 * @types/node 20 do not declare the WebAssembly global, and a global declaration here could
 * clash with other folders, so the global is read once through these local types.
 */
export interface WasmMemory {
  /** A SharedArrayBuffer for shared memories; a new object after each growth. */
  readonly buffer: SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled module (opaque; structured-cloneable to workers). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (descriptor: {initial: number; maximum: number; shared: boolean}) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
}

export const wasm: WasmApi = (globalThis as unknown as {WebAssembly: WasmApi}).WebAssembly;
