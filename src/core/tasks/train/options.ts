/**
 * Command-line options of one training run (`node scripts/train-demo.mjs train ...`), parsed into
 * RunOptions. Unknown flags and bad values are UsageErrors that name the flag.
 */
import {UsageError} from '../../errors.js';
import {DEFAULT_SHAPE, type ModelShape} from './model.js';
import type {RunOptions} from './pipeline.js';
import {DEFAULT_TRAIN} from './train.js';

export const TRAIN_FLAGS_HELP = `Options of a training run:
  --out DIR            model directory to write (required)
  --tokenizer DIR      folder with tokenizer.json (required)
  --ffn-topk F         share of FFN hidden activations kept, in (0, 1] (default ${DEFAULT_SHAPE.ffnTopK})
  --dense              dense FFN (no top-k)
  --minutes M          time budget (default ${DEFAULT_TRAIN.minutes})
  --steps N            optimizer steps (default: as many as fit in --minutes)
  --seed S             seed for weights and batches (default ${DEFAULT_TRAIN.seed})
  --dim, --layers, --heads, --ffn, --context   model size (default ${DEFAULT_SHAPE.dim}, ${DEFAULT_SHAPE.nLayers}, ${DEFAULT_SHAPE.nHeads}, ${DEFAULT_SHAPE.hiddenDim}, ${DEFAULT_SHAPE.contextLength})
  --batch B            windows per step (default ${DEFAULT_TRAIN.batchSize})
  --lr X               peak learning rate (default ${DEFAULT_TRAIN.peakLr})
  --warmup N           warmup steps (default ${DEFAULT_TRAIN.warmupSteps})
  --eval-every N       quick validation every N steps (default ${DEFAULT_TRAIN.evalEvery})
  --eval-windows N     windows in a quick validation (default ${DEFAULT_TRAIN.evalWindows})
  --corpus FILE        text file (default data/tinyshakespeare.txt)`;

const NUMERIC: Record<string, {key: string; int: boolean}> = {
  '--ffn-topk': {key: 'ffnTopK', int: false},
  '--minutes': {key: 'minutes', int: false},
  '--steps': {key: 'steps', int: true},
  '--seed': {key: 'seed', int: true},
  '--dim': {key: 'dim', int: true},
  '--layers': {key: 'nLayers', int: true},
  '--heads': {key: 'nHeads', int: true},
  '--ffn': {key: 'hiddenDim', int: true},
  '--context': {key: 'contextLength', int: true},
  '--vocab': {key: 'vocabSize', int: true},
  '--batch': {key: 'batchSize', int: true},
  '--lr': {key: 'peakLr', int: false},
  '--warmup': {key: 'warmupSteps', int: true},
  '--eval-every': {key: 'evalEvery', int: true},
  '--eval-windows': {key: 'evalWindows', int: true},
};
const SHAPE_KEYS = new Set(['ffnTopK', 'dim', 'nLayers', 'nHeads', 'hiddenDim', 'contextLength', 'vocabSize']);

export function parseTrainArgs(argv: readonly string[]): RunOptions {
  const shape: ModelShape = {...DEFAULT_SHAPE};
  const train: Record<string, unknown> = {...DEFAULT_TRAIN};
  let out: string | undefined;
  let tokenizerDir: string | undefined;
  let corpus: string | undefined;
  let dense = false;
  let topkGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--dense') {
      dense = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value\n${TRAIN_FLAGS_HELP}`);
    i++;
    if (flag === '--out') out = value;
    else if (flag === '--tokenizer') tokenizerDir = value;
    else if (flag === '--corpus') corpus = value;
    else if (flag in NUMERIC) {
      const {key, int} = NUMERIC[flag]!;
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) {
        throw new UsageError(`${flag}: expected ${int ? 'an integer' : 'a number'}, got "${value}"`);
      }
      if (key === 'ffnTopK') topkGiven = true;
      if (SHAPE_KEYS.has(key)) (shape as unknown as Record<string, number>)[key] = n;
      else train[key] = n;
    } else {
      throw new UsageError(`unknown option ${flag}\n${TRAIN_FLAGS_HELP}`);
    }
  }
  if (dense && topkGiven) throw new UsageError('--dense and --ffn-topk exclude each other');
  if (dense) shape.ffnTopK = null;
  if (out === undefined || tokenizerDir === undefined) throw new UsageError(`--out and --tokenizer are required\n${TRAIN_FLAGS_HELP}`);
  return {...(train as unknown as typeof DEFAULT_TRAIN), shape, outDir: out, tokenizerDir, corpus};
}
