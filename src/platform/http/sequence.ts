// Middlewares run in turn as one Express layer. Each Express layer costs a router step (layer
// match, params processing, next() bookkeeping); the platform's steps run on every request and
// never need the router between them (issue 15).
import type { NextFunction, Request, Response } from 'express';

export type Handler = (req: Request, res: Response, next: NextFunction) => unknown;

/**
 * Runs `steps` in order; an error (passed to next, thrown, or a rejected promise) skips the rest
 * and goes to the app's error handler, as between Express layers.
 */
export function inSequence(steps: Handler[]): Handler {
  return (req, res, next) => {
    const run = { index: 0, step: next };
    // Assigned to a member, not bound to a name: under tsx (esbuild's keepNames) a named closure
    // gets its name by Object.defineProperty each time it is made, here once per request.
    run.step = (error?: unknown): void => {
      if (error) return next(error);
      const current = steps[run.index++];
      if (!current) return next();
      try {
        const result = current(req, res, run.step) as Promise<unknown> | undefined;
        if (result && typeof result.then === 'function') result.then(undefined, next);
      } catch (thrown) {
        next(thrown);
      }
    };
    run.step();
  };
}
