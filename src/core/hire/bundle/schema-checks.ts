/**
 * A small declarative checker for JSON read from disk: a Rule checks one value at a field path and
 * returns it typed, or throws a SchemaProblem naming the path, the rule and a short description of
 * what was found (never the value itself beyond a few characters). Rules compose (object, arrayOf,
 * record, nullable, optional), so a schema reads as a table of fields; rules that depend on other
 * fields (an array whose length is another field) are functions that build a rule from them.
 */

/** `<at> must be <rule>, found <found>`. */
export class SchemaProblem extends Error {
  constructor(
    readonly at: string,
    readonly rule: string,
    readonly found: string,
  ) {
    super(`${at || 'the top level'} must be ${rule}, found ${found}`);
    this.name = 'SchemaProblem';
  }
}

/** Checks `value` (found at path `at`) and returns it typed, or throws SchemaProblem. */
export type Rule<T> = (value: unknown, at: string) => T;

/** A short description of a JSON value for messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 24 ? `${JSON.stringify(value.slice(0, 24))}...` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

export function fail(at: string, rule: string, value: unknown): never {
  throw new SchemaProblem(at, rule, describeValue(value));
}

/** The path of a field: `a.b`, or `a["0.99"]` for keys that are not identifiers. */
export function field(at: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return at ? `${at}.${key}` : key;
  return `${at}[${JSON.stringify(key)}]`;
}

/** An integer in [min, max] (max: the largest safe integer unless given). */
export function int(min: number, max = Number.MAX_SAFE_INTEGER): Rule<number> {
  const rule =
    max !== Number.MAX_SAFE_INTEGER ? (min === max ? `the integer ${min}` : `an integer from ${min} to ${max}`) : min === Number.MIN_SAFE_INTEGER ? 'an integer' : `an integer >= ${min}`;
  return (v, at) => (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fail(at, rule, v));
}

/** A finite number in [min, max], or (min, max] when `minOpen`; `slack` widens max for rounding. */
export function real(min: number, max: number, o: {minOpen?: boolean; slack?: number} = {}): Rule<number> {
  const rule = `a number in ${o.minOpen ? '(' : '['}${min}, ${max}]`;
  const top = max + (o.slack ?? 0);
  return (v, at) => {
    const ok = typeof v === 'number' && Number.isFinite(v) && (o.minOpen ? v > min : v >= min) && v <= top;
    return ok ? (v as number) : fail(at, rule, v);
  };
}

/** A string, optionally matching `pattern` (described as `what`). */
export function str(o: {pattern?: RegExp; what?: string} = {}): Rule<string> {
  const rule = o.what ?? 'a string';
  return (v, at) => (typeof v === 'string' && (!o.pattern || o.pattern.test(v)) ? v : fail(at, rule, v));
}

export const bool: Rule<boolean> = (v, at) => (typeof v === 'boolean' ? v : fail(at, 'true or false', v));

/** One of a few literal values. */
export function oneOf<T extends string | number | boolean>(values: readonly T[]): Rule<T> {
  const rule = values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return (v, at) => (values.includes(v as T) ? (v as T) : fail(at, rule, v));
}

export function nullable<T>(rule: Rule<T>, what = 'null'): Rule<T | null> {
  return (v, at) => {
    if (v === null) return null;
    try {
      return rule(v, at);
    } catch (error) {
      if (error instanceof SchemaProblem && error.at === at) throw new SchemaProblem(at, `${error.rule} or ${what}`, error.found);
      throw error;
    }
  };
}

/** A field that may be left out (but not set to null). */
export function optional<T>(rule: Rule<T>): Rule<T | undefined> {
  return (v, at) => (v === undefined ? undefined : rule(v, at));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An array of values checked by `item`, with an exact or least length, optionally strictly ascending. */
export function arrayOf<T>(item: Rule<T>, o: {length?: number; min?: number; ascending?: boolean} = {}): Rule<T[]> {
  return (v, at) => {
    if (!Array.isArray(v)) return fail(at, 'an array', v);
    if (o.length !== undefined && v.length !== o.length) return fail(at, `an array of ${o.length}`, v);
    if (o.min !== undefined && v.length < o.min) return fail(at, `an array of at least ${o.min}`, v);
    const out = v.map((x, i) => item(x, `${at}[${i}]`));
    if (o.ascending) {
      for (let i = 1; i < out.length; i++) if (!((out[i] as number) > (out[i - 1] as number))) fail(`${at}[${i}]`, `greater than ${at}[${i - 1}] (ascending)`, v[i]);
    }
    return out;
  };
}

/** An object whose fields are checked in the order `shape` lists them; other keys are ignored. */
export function object<T>(shape: {[K in keyof T]-?: Rule<T[K]>}): Rule<T> {
  return (v, at) => {
    if (!isPlainObject(v)) return fail(at, 'an object', v);
    for (const key of Object.keys(shape) as Array<keyof T & string>) shape[key](v[key], field(at, key));
    return v as T;
  };
}

/** An object used as a map: every key checked by `key` (given the key text), every value by `value`. */
export function record<T>(key: Rule<unknown>, value: Rule<T>): Rule<Record<string, T>> {
  return (v, at) => {
    if (!isPlainObject(v)) return fail(at, 'an object', v);
    for (const [k, x] of Object.entries(v)) {
      key(k, `${at} key ${JSON.stringify(k.slice(0, 24))}`);
      value(x, field(at, k));
    }
    return v as Record<string, T>;
  };
}

/** A map key that is a number's text, e.g. "0.99" or "32", checked by `rule` as that number. */
export function numericKey(rule: Rule<number>): Rule<unknown> {
  return (k, at) => {
    const s = k as string;
    const n = s.trim() === '' ? NaN : Number(s);
    if (String(n) !== s) return fail(at, 'a number written as JSON writes it', s);
    return rule(n, at);
  };
}
