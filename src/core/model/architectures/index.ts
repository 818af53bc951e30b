import {UnsupportedArchitectureError} from '../../errors.js';
import {ConfigReader, ModelConfig, RawConfig} from '../config.js';
import type {Architecture} from './architecture.js';
import {gpt2} from './gpt2.js';
import {llama} from './llama.js';
import {opt} from './opt.js';

export type {Architecture} from './architecture.js';
export const ARCHITECTURES: readonly Architecture[] = [llama, gpt2, opt];
export const SUPPORTED_CLASSES: readonly string[] = ARCHITECTURES.flatMap((a) => a.classes);

/** Finds the architecture for a config.json by its "architectures" list, else its "model_type". */
export function resolveArchitecture(raw: RawConfig): {arch: Architecture; className: string} {
  const reader = new ConfigReader(raw);
  const listed = raw.json['architectures'];
  if (Array.isArray(listed) && listed.length > 0) {
    for (const name of listed) {
      const arch = ARCHITECTURES.find((a) => a.classes.includes(String(name)));
      if (arch) return {arch, className: String(name)};
    }
    throw new UnsupportedArchitectureError(raw.file, listed.join(', '), SUPPORTED_CLASSES);
  }
  const modelType = reader.str('model_type', '');
  const arch = ARCHITECTURES.find((a) => a.modelTypes.includes(modelType));
  if (!arch) throw new UnsupportedArchitectureError(raw.file, modelType || '(none given)', SUPPORTED_CLASSES);
  return {arch, className: arch.classes[arch.modelTypes.indexOf(modelType)] ?? arch.classes[0]!};
}

export function parseModelConfig(raw: RawConfig): {arch: Architecture; config: ModelConfig} {
  const {arch, className} = resolveArchitecture(raw);
  return {arch, config: arch.parseConfig(new ConfigReader(raw), className)};
}
