/**
 * The server's metrics page: valid Prometheus text (HELP and TYPE before each metric, one sample
 * per line), counters that add up, and rates over the last window only.
 */
import {describe, expect, it} from 'vitest';
import {ServeMetrics, WINDOW_MS} from '../../../../src/core/tasks/serve/metrics.js';

describe('serve metrics', () => {
  it('renders the Prometheus text format with counts, bytes per token and windowed rates', () => {
    let now = 0;
    const m = new ServeMetrics(100, () => now);
    m.request('/v1/completions', 200);
    m.request('/v1/completions', 200);
    m.request('/v1/chat/completions', 400);
    m.prefilled(7);
    m.generated(2);
    m.stepped(2, {bytes: 1000, unionGroups: 6, groupsPerRow: 4}, [{ids: null, logits: new Float32Array(100)}, {ids: new Int32Array(10), logits: new Float32Array(10)}]);
    m.generated(2);
    m.gauges(3, 2);
    m.finished('eos');
    now = 2000;
    const text = m.render();
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) hire_\w+ .+|hire_\w+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?[\d.e+-]+)$/);
    const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)![1]);
    expect(value('hire_requests_total{route="/v1/completions",status="200"}')).toBe(2);
    expect(value('hire_requests_total{route="/v1/chat/completions",status="400"}')).toBe(1);
    expect(value('hire_generations_total{reason="eos"}')).toBe(1);
    expect(value('hire_queue_depth')).toBe(3);
    expect(value('hire_batch_size')).toBe(2);
    expect(value('hire_prompt_tokens_total')).toBe(7);
    expect(value('hire_generated_tokens_total')).toBe(4);
    expect(value('hire_weight_bytes_per_token')).toBe(500);
    expect(value('hire_softmax_candidates_per_token')).toBe(55);
    expect(value('hire_ffn_groups_per_step')).toBe(6);
    expect(value('hire_ffn_groups_per_sequence')).toBe(4);
    expect(value('hire_tokens_per_second')).toBe(2); // 4 tokens over 2 s
    expect(value('hire_bandwidth_bytes_per_second')).toBe(500);
    now += WINDOW_MS + 1;
    expect(m.rates()).toEqual({tokensPerSecond: 0, bytesPerSecond: 0});
  });
});
