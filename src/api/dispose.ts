/**
 * `using` / `await using` support. Node 20.4+ defines Symbol.dispose and Symbol.asyncDispose;
 * earlier 20.x does not, so we install the registered symbols TypeScript's and Babel's
 * downlevelled `using` fall back to (Symbol.for('Symbol.asyncDispose')). The syntax itself is not
 * in Node 20: examples call dispose() in a finally block instead.
 */
const symbols = Symbol as unknown as {dispose?: symbol; asyncDispose?: symbol};
symbols.dispose ??= Symbol.for('Symbol.dispose');
symbols.asyncDispose ??= Symbol.for('Symbol.asyncDispose');

export {};
