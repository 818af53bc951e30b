/** Helpers for tests that read or break HiRE bundles. */
import {parseModelConfig} from '../../src/core/model/architectures/index.js';
import {readConfigJson, type ModelConfig} from '../../src/core/model/config.js';

/** The parsed config.json of a model directory or bundle (what hire.json is checked against). */
export function configOf(dir: string): ModelConfig {
  return parseModelConfig(readConfigJson(dir)).config;
}
