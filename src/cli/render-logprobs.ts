/**
 * Log-probabilities as text: one line per token, its string, its log-probability and the top
 * alternatives (`hire generate --logprobs N` on stderr, `hire score` on stdout).
 */
import type {TokenLogprobs} from '../api/result.js';
import type {ScoreResult} from '../api/score.js';

/** One token's line: "token"  logprob   "alt" logprob, ... ("-" where HiRE has no value). */
export function logprobLine(token: string | null, id: number, l: Pick<TokenLogprobs, 'logprob' | 'top'>): string {
  const alts = l.top.map((a) => `${JSON.stringify(a.token ?? a.id)} ${a.logprob.toFixed(3)}`).join(', ');
  return `${JSON.stringify(token ?? id).padEnd(16)} ${fmt(l.logprob).padStart(9)}${alts ? `   ${alts}` : ''}`;
}

/** `hire score`'s lines: every token, then the total. */
export function renderScore(r: ScoreResult): string {
  const lines = r.tokens.map((t) => logprobLine(t.token, t.id, t));
  lines.push(`total ${fmt(r.totalLogprob)} over ${r.tokens.length - 1} tokens (${r.output.describe})`);
  return lines.join('\n');
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(4);
}
