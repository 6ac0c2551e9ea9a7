// A promise bounded in time, for checks that must not hang (readiness, metrics, the notification
// connection's round trips).

/** `promise`, or a rejection with `message` once `ms` have passed (the timer is cleared either way). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message = 'timeout'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
