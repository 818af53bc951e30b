import type {ConfigReader, Family, ModelConfig} from '../config.js';
import type {WeightSpec} from '../weights.js';

/** What each supported Hugging Face model family provides. */
export interface Architecture {
  family: Family;
  /** HF class names in config.json "architectures". */
  classes: readonly string[];
  /** HF "model_type" values, used when "architectures" is absent. */
  modelTypes: readonly string[];
  parseConfig(reader: ConfigReader, architecture: string): ModelConfig;
  /** Where each canonical weight lives; `names` are the checkpoint's tensor names. */
  weightSpecs(config: ModelConfig, names: ReadonlySet<string>): WeightSpec[];
}

/** Picks the first prefix under which `probe` exists (checkpoints differ in their root prefix). */
export function detectPrefix(names: ReadonlySet<string>, prefixes: readonly string[], probe: string): string {
  return prefixes.find((p) => names.has(p + probe)) ?? prefixes[0]!;
}
