/** The GGUF writer the tests make their files with (it lives in src for scripts/compare-llama-cpp.mjs). */
export * from '../../src/core/model/formats/gguf/writer.js';
