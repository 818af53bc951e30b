/**
 * One sequence's choice of its next tokens, apart from how its forward passes are run: penalise,
 * sample with the sequence's own rng, stop on eos / the token budget / a full context / a stop
 * string. A generation alone (generate.ts) and a scheduler that steps many sequences together
 * (tasks/serve) both use it, so a sequence gets the same tokens whichever runs it.
 */
import {tokenLogprobs} from './logprobs.js';
import type {HeadResult} from './output-head.js';
import {applyPenalties, hasPenalties, TokenCounts, type PenaltyOptions} from './penalties.js';
import {sample, sampleCandidates, type Rng, type SamplingOptions} from './sampler.js';
import type {StopReason, TokenEvent} from './generate.js';
import {createRng} from '../numeric/rng.js';

export interface NextTokenOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  seed: number;
  /** Token ids that end the sequence (not emitted). */
  eosTokenIds: readonly number[];
  penalties?: PenaltyOptions;
  /** Each token's log-probability and this many alternatives (0: the token's own only); off when absent. */
  logprobs?: number;
}

export class NextToken {
  /** Tokens emitted so far. */
  generated = 0;
  /** Why the sequence ended (meaningful once take() returned null or more() returned false). */
  stopReason: StopReason = 'max_tokens';
  private readonly rng: Rng;
  private readonly eos: Set<number>;
  private readonly penalties: PenaltyOptions | null;
  private readonly counts: TokenCounts | null;
  private pos: number;

  /**
   * `ids`: the sequence so far (the prompt, history included: penalties count it); `limit`: the
   * sequence ends at this many positions; `maxSeqLen`: the model's context.
   */
  constructor(
    private readonly opts: NextTokenOptions,
    ids: readonly number[],
    private readonly limit: number,
    private readonly maxSeqLen: number,
  ) {
    this.rng = createRng(opts.seed);
    this.eos = new Set(opts.eosTokenIds);
    this.penalties = opts.penalties && hasPenalties(opts.penalties) ? opts.penalties : null;
    this.counts = this.penalties ? new TokenCounts(ids) : null;
    this.pos = ids.length - 1;
  }

  /** The next token from the head's result, or null when the sequence ends here (eos, or no budget). */
  take(logits: HeadResult): TokenEvent | null {
    if (this.generated >= this.opts.maxTokens) {
      this.stopReason = 'max_tokens';
      return null;
    }
    const id = pick(this.penalties ? applyPenalties(logits, this.counts!, this.penalties) : logits, this.opts.sampling, this.rng);
    if (this.eos.has(id)) {
      this.stopReason = 'eos';
      return null;
    }
    this.pos++;
    this.generated++;
    this.counts?.add(id);
    const pos = this.pos;
    return this.opts.logprobs === undefined ? {id, pos} : {id, pos, logprobs: tokenLogprobs(logits, id, this.opts.logprobs)};
  }

  /**
   * After a token was emitted: whether it is fed back for another (false: the sequence ends here,
   * by a stop string when `stopped`, by the budget, or by a full context).
   */
  more(stopped: boolean): boolean {
    if (stopped) {
      this.stopReason = 'stop';
      return false;
    }
    if (this.generated >= this.opts.maxTokens) {
      this.stopReason = 'max_tokens';
      return false;
    }
    if (this.pos + 1 >= this.limit) {
      this.stopReason = this.pos + 1 >= this.maxSeqLen ? 'context_full' : 'max_tokens';
      return false;
    }
    return true;
  }
}

/** Samples from the whole vocabulary, or from the candidates a sparse head returned. */
function pick(r: HeadResult, sampling: SamplingOptions, rng: Rng): number {
  return r.ids === null ? sample(r.logits, sampling, rng) : sampleCandidates(r.ids, r.logits, sampling, rng);
}
