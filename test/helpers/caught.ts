/** The error `fn` throws (the test fails when it returns normally). */
export function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & {code?: string}> {
  try {
    await promise;
  } catch (error) {
    return error as Error & {code?: string};
  }
  throw new Error('expected a rejection, but the promise resolved');
}
