/**
 * SIGINT, SIGTERM and SIGHUP while a command writes output: exit at once with the conventional
 * code (128 + the signal's number: 130, 143, 129). The library API removes its unfinished output
 * on process exit, so exiting here is what cleans up. Handlers live only while `run` does.
 */
import os from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function exitOnSignals<T>(run: () => Promise<T>, beforeExit: () => void = () => {}): Promise<T> {
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      beforeExit();
      process.stderr.write(`hire: stopped by ${signal}\n`);
      process.exit(128 + os.constants.signals[signal]);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    return await run();
  } finally {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  }
}
