/**
 * What hire.json stores under softmax.dat: the DaT slack calibrated per device count (written by
 * tasks/calibrate/dat-slack.ts, read by the device group's head choice, parallel/heads.ts).
 */

/** One (D, k, k') calibration: recall of single-device HiRE and of DaT at each slack. */
export interface DatSlackEntry {
  devices: number;
  k: number;
  kPrime: number;
  /** Mean recall@k of single-device HiRE at k'. */
  single: number;
  /** Mean recall@k of DaT at slacks[i]. */
  dat: number[];
  /** The smallest slack within maxLoss of single (null: none on the grid). */
  slack: number | null;
}

/** What hire.json stores under softmax.dat. */
export interface DatCalibration {
  predictor: string;
  /** How the vocabulary was split (absent: contiguous, as the first calibrations did). */
  layout?: 'strided' | 'contiguous';
  maxLoss: number;
  slacks: number[];
  tokens: number;
  entries: DatSlackEntry[];
}
