// What request-validation.ts takes from express-openapi-validator beyond its typed entry point
// (CommonJS modules under dist/): its RequestValidator class, and the way it turns ajv errors into
// its 400. These are not the package's public API, so package.json pins it to one version; if a
// part is missing, validatorLibrary() answers undefined and only the library's own steps run.
import { createRequire } from 'node:module';
import type { OpenApiDocument } from './openapi.js';
import type { Handler } from './sequence.js';

interface AjvError { keyword: string; instancePath: string; schemaPath: string; params: Record<string, unknown>; message?: string }
/** A body validator the library compiled (ajv), over the request data it builds: {query, headers, params, cookies, body}. */
export type BodyCheck = ((data: Record<string, unknown>) => boolean) & { errors?: AjvError[] | null };
export interface AjvInstance {
  getSchema(key: string): BodyCheck | undefined;
  errorsText(errors: AjvError[], options: { dataVar: string }): string;
}
export interface LibraryRequestValidator { validate: Handler; ajvBody?: AjvInstance }

interface Internals {
  RequestValidator: new (apiDoc: OpenApiDocument, options: unknown) => LibraryRequestValidator;
  augmentAjvErrors: (errors: AjvError[]) => AjvError[];
  ajvErrorsToValidatorError: (status: number, errors: AjvError[]) => { errors: unknown[] };
  BadRequest: new (err: { path: string; message: string }) => Error & { errors?: unknown[] };
}

export function validatorLibrary() {
  const load = createRequire(import.meta.url);
  let internals: Partial<Internals>;
  try {
    internals = {
      ...load('express-openapi-validator/dist/middlewares/index.js'),
      ...load('express-openapi-validator/dist/middlewares/util.js'),
      ...load('express-openapi-validator/dist/framework/types.js'),
    } as Partial<Internals>;
  } catch {
    return undefined;
  }
  const { RequestValidator, augmentAjvErrors, ajvErrorsToValidatorError, BadRequest } = internals;
  if (!RequestValidator || !augmentAjvErrors || !ajvErrorsToValidatorError || !BadRequest) return undefined;
  return {
    RequestValidator,
    /** The 400 the library's request step throws for these body errors (openapi.request.validator.js). */
    refusal(path: string, errors: AjvError[], ajv: AjvInstance): Error {
      const augmented = augmentAjvErrors([...errors]);
      const error = new BadRequest({ path, message: ajv.errorsText(augmented, { dataVar: 'request' }) });
      error.errors = ajvErrorsToValidatorError(400, augmented).errors;
      return error;
    },
  };
}
