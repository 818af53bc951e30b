/**
 * Why: JSON.parse's error messages quote the text around the error (a config.json symlinked to a
 * file of secrets would print them), and a value nested a hundred thousand levels deep overflows
 * the stack of any recursive walk over the parsed result. This scanner checks the JSON grammar
 * (RFC 8259, exactly what JSON.parse accepts) and the nesting depth in one linear pass, without
 * recursion, and reports only where the problem is, never text from the input.
 */

export interface JsonProblem {
  /** Offset in the text (UTF-16 code units) where the problem was found. */
  offset: number;
  /** What is wrong, in words that quote nothing from the input. */
  problem: string;
  /** True when the text is well-formed so far but nested deeper than allowed. */
  tooDeep: boolean;
}

/** What the scanner expects next. */
const Expect = {Value: 0, AfterValue: 1, Key: 2} as const;

const OBJECT = 1;
const ARRAY = 2;

/** The first syntax error in `text`, or the first container opened deeper than `maxDepth`; null when it is valid JSON. */
export function findJsonProblem(text: string, maxDepth: number): JsonProblem | null {
  const stack: number[] = [];
  let state: number = Expect.Value;
  let i = skipSpace(text, 0);
  for (;;) {
    if (state === Expect.Value) {
      const c = text.charCodeAt(i);
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (stack.length >= maxDepth) return {offset: i, problem: `nested deeper than ${maxDepth} levels`, tooDeep: true};
        const close = c === 0x7b ? 0x7d : 0x5d;
        stack.push(c === 0x7b ? OBJECT : ARRAY);
        i = skipSpace(text, i + 1);
        if (text.charCodeAt(i) === close) {
          stack.pop();
          i++;
          state = Expect.AfterValue;
        } else {
          state = c === 0x7b ? Expect.Key : Expect.Value;
        }
        continue;
      }
      const end = scanScalar(text, i);
      if (typeof end !== 'number') return end;
      i = end;
      state = Expect.AfterValue;
      continue;
    }
    if (state === Expect.Key) {
      if (text.charCodeAt(i) !== 0x22) return syntax(text, i, 'expected a property name in double quotes');
      const end = scanString(text, i);
      if (typeof end !== 'number') return end;
      i = skipSpace(text, end);
      if (text.charCodeAt(i) !== 0x3a /* : */) return syntax(text, i, "expected ':' after a property name");
      i = skipSpace(text, i + 1);
      state = Expect.Value;
      continue;
    }
    // After a value: the end of the text, or a comma or the close of the enclosing container.
    i = skipSpace(text, i);
    const top = stack[stack.length - 1];
    if (top === undefined) return i < text.length ? syntax(text, i, 'unexpected text after the JSON value') : null;
    const c = text.charCodeAt(i);
    if (c === 0x2c /* , */) {
      i = skipSpace(text, i + 1);
      state = top === OBJECT ? Expect.Key : Expect.Value;
    } else if ((top === OBJECT && c === 0x7d) || (top === ARRAY && c === 0x5d)) {
      stack.pop();
      i++;
    } else {
      return syntax(text, i, top === OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

/** 1-based line and column of a text offset (columns count UTF-16 code units). */
export function lineAndColumn(text: string, offset: number): {line: number; column: number} {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return {line, column: offset - lineStart + 1};
}

function syntax(text: string, offset: number, problem: string): JsonProblem {
  return {offset, problem: offset >= text.length ? `${problem}, but the text ends` : problem, tooDeep: false};
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** A string, number or literal starting at i: the offset after it, or the problem. */
function scanScalar(text: string, i: number): number | JsonProblem {
  const c = text.charCodeAt(i);
  if (c === 0x22) return scanString(text, i);
  if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return scanNumber(text, i);
  for (const word of ['true', 'false', 'null']) {
    if (text.startsWith(word, i)) return i + word.length;
  }
  return syntax(text, i, 'expected a value');
}

function scanString(text: string, start: number): number | JsonProblem {
  let i = start + 1;
  for (;;) {
    if (i >= text.length) return syntax(text, i, 'unterminated string');
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c < 0x20) return syntax(text, i, 'control character inside a string');
    if (c === 0x5c /* \ */) {
      const e = text.charCodeAt(i + 1);
      if (e === 0x75 /* u */) {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return syntax(text, i, 'bad \\u escape in a string');
        i += 6;
        continue;
      }
      if (Number.isNaN(e) || !'"\\/bfnrt'.includes(String.fromCharCode(e))) return syntax(text, i, 'bad escape in a string');
      i += 2;
      continue;
    }
    i++;
  }
}

function scanNumber(text: string, start: number): number | JsonProblem {
  let i = start;
  if (text.charCodeAt(i) === 0x2d) i++;
  const digits = (from: number): number => {
    let j = from;
    while (isDigit(text.charCodeAt(j))) j++;
    return j;
  };
  if (text.charCodeAt(i) === 0x30) i++;
  else if (isDigit(text.charCodeAt(i))) i = digits(i);
  else return syntax(text, i, 'malformed number');
  if (text.charCodeAt(i) === 0x2e /* . */) {
    const j = digits(i + 1);
    if (j === i + 1) return syntax(text, j, 'malformed number');
    i = j;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const s = text.charCodeAt(i);
    if (s === 0x2b || s === 0x2d) i++;
    const j = digits(i);
    if (j === i) return syntax(text, j, 'malformed number');
    i = j;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
