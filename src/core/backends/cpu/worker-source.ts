/**
 * Source of a kernel worker, started with `new Worker(WORKER_SOURCE, {eval: true})`.
 *
 * Why a string: the project runs TypeScript sources under vitest and compiled JavaScript from
 * dist/, and a separate worker file would need a different path (and a copy step) in each. An
 * eval worker needs neither. It is plain CommonJS-style JavaScript, so keep it small; it is
 * exercised by every multi-threaded test.
 *
 * workerData: {module, memory, index, names, spin, layout}. The worker instantiates the same
 * module on the same shared memory, posts 'ready', then loops: wait for CTL.GEN to change
 * (spinning `spin` polls first, then Atomics.wait in 200 ms slices), claim and run parts of the
 * job while any is left (control.ts), adding 1 to CTL.DONE and notifying after each. A failure
 * is written into the control block (the calling thread is blocked in Atomics.wait and cannot
 * see 'error' events); a worker that exits marks CTL.FATAL from its process 'exit' handler and
 * still counts the part it held as done.
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const {parentPort, workerData} = require('node:worker_threads');
const {module, memory, index, names, spin, layout: L} = workerData;
const ctl = new Int32Array(memory.buffer, 0, L.words);
let inJob = false;

function writeMessage(text) {
  if (Atomics.compareExchange(ctl, L.ERR, 0, -1) !== 0) return;
  const bytes = Buffer.from(String(text), 'utf8').subarray(0, L.msgBytes);
  new Uint8Array(memory.buffer, L.msgOffset, bytes.length).set(bytes);
  Atomics.store(ctl, L.MSG_LEN, bytes.length);
  Atomics.store(ctl, L.ERR, index);
}

function finishJob() {
  inJob = false;
  Atomics.add(ctl, L.DONE, 1);
  Atomics.notify(ctl, L.DONE);
}

process.on('exit', (code) => {
  if (Atomics.load(ctl, L.QUIT) !== 0) return;
  writeMessage('cpu kernel worker ' + index + ' exited (code ' + code + ')');
  Atomics.store(ctl, L.FATAL, index);
  if (inJob) finishJob();
  else Atomics.notify(ctl, L.DONE);
});

const exports = new WebAssembly.Instance(module, {env: {memory}}).exports;
const fns = names.map((name) => exports[name]);

function split(lo, hi, parts, t, align) {
  const chunk = Math.ceil((hi - lo) / parts / align) * align;
  const start = Math.min(hi, lo + t * chunk);
  return [start, Math.min(hi, start + chunk)];
}

class DebugCrash extends Error {}

/** Runs part p of the current job (its range, from the job's fixed arguments). */
function runPart(p) {
  const [s, e] = split(ctl[L.LO], ctl[L.HI], ctl[L.PARTS], p, ctl[L.ALIGN]);
  if (s >= e) return;
  const f = fns[ctl[L.FN]];
  const a = L.ARGS;
  switch (ctl[L.ARGC]) {
    case 2: f(ctl[a], ctl[a + 1], s, e); break;
    case 3: f(ctl[a], ctl[a + 1], ctl[a + 2], s, e); break;
    case 4: f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], s, e); break;
    case 5: f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], s, e); break;
    case 6: f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], s, e); break;
    case 7: f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], s, e); break;
    default: {
      const n = ctl[L.ARGC];
      if (!(n >= 1 && n <= 16)) throw new Error('bad argument count ' + n);
      const args = [];
      for (let i = 0; i < n; i++) args.push(ctl[a + i]);
      args.push(s, e);
      f(...args);
    }
  }
}

/** Debug hook of worker 1 (see CTL.DEBUG); 5 ('late') acts before the part is claimed. */
function debugHook(debug) {
  if (debug === 1) throw new DebugCrash('debug hook: worker ' + index + ' crashed on purpose');
  if (debug === 2) process.exit(7);
  if (debug === 3) Atomics.wait(ctl, L.QUIT, 0, 30000);
  if (debug === 4) Atomics.wait(ctl, L.QUIT, 0, 300);
  if (debug === 5) Atomics.wait(ctl, L.QUIT, 0, 2000);
}

/**
 * Claims parts of job gen one at a time until none is left (or the job is no longer current:
 * CLAIM carries its tag, so a late wake-up never claims a part of a newer job). A part's
 * arguments are read after its claim succeeded: the job cannot finish, nor be replaced, before
 * this part is counted in DONE. In a debug job every thread takes one part only.
 */
function claimParts(gen) {
  const tag = (gen & 0xfffff) << L.tagShift;
  const low = (1 << L.tagShift) - 1;
  let hooked = false;
  for (;;) {
    const c = Atomics.load(ctl, L.CLAIM);
    if ((c & ~low) !== tag || (c & low) >= ctl[L.PARTS]) return;
    const mode = Atomics.load(ctl, L.DEBUG);
    const oneEach = mode !== 0 && mode !== 5;
    if (mode === 5 && index === 1 && !hooked) {
      hooked = true;
      debugHook(mode);
      continue;
    }
    if (Atomics.compareExchange(ctl, L.CLAIM, c, c + 1) !== c) continue;
    inJob = true;
    try {
      if (oneEach && index === 1) debugHook(mode);
      runPart(c & low);
    } catch (err) {
      writeMessage('cpu kernel worker ' + index + ': ' + (err && err.message ? err.message : err));
      if (err instanceof DebugCrash) {
        Atomics.store(ctl, L.FATAL, index);
        finishJob();
        throw err;
      }
    }
    finishJob();
    if (oneEach) return;
  }
}

let gen = Atomics.load(ctl, L.GEN);
parentPort.postMessage('ready');
for (;;) {
  let polls = 0;
  while (Atomics.load(ctl, L.GEN) === gen) {
    if (polls++ < spin) continue;
    Atomics.wait(ctl, L.GEN, gen, 200);
  }
  gen = Atomics.load(ctl, L.GEN);
  if (Atomics.load(ctl, L.QUIT) !== 0) break;
  claimParts(gen);
}
`;
