// Method + path -> OpenAPI operation, compiled once from the document. Authentication, the
// validator's route metadata and dispatch all use the one match made per request, instead of
// each walking ~100 Express routes (two path-to-regexp walks plus the validator's own, which
// recompiled every route's regexp on every request: the largest cost of a request, issue 15).
import type { NextFunction, Request, Response } from 'express';
import { listOperations, type BoundOperation, type OpenApiDocument } from './openapi.js';

export interface OperationMatch {
  operation: BoundOperation;
  /** Path parameters, percent-decoded, by their OpenAPI names. */
  params: Record<string, string>;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The OpenAPI operation this request addresses, resolved once by `resolveOperation`. */
    operationMatch?: OperationMatch;
  }
}

interface Segment {
  /** Literal children by lower-cased segment (Express and the validator match case-insensitively). */
  literals: Map<string, Segment>;
  /** At most one parameter child: OpenAPI paths that differ only in a parameter's name are one path. */
  parameter?: { name: string; next: Segment };
  operations: Map<string, BoundOperation>;
}

const segment = (): Segment => ({ literals: new Map(), operations: new Map() });

/** A 404 or 405 in the shape express-openapi-validator used, so toProblem maps them as before. */
class RouteError extends Error {
  constructor(readonly status: number, message: string, readonly method?: string, readonly errors: Array<{ path: string; message: string }> = []) {
    super(message);
  }
}

export function createOperationMatcher(document: OpenApiDocument) {
  const root = segment();
  const operations = listOperations(document);
  for (const op of operations) {
    let node = root;
    for (const part of op.openapiPath.split('/').slice(1)) {
      const parameter = /^\{([^}]+)\}$/.exec(part);
      if (parameter) {
        node.parameter ??= { name: parameter[1], next: segment() };
        if (node.parameter.name !== parameter[1]) throw new Error(`OpenAPI: ${op.openapiPath} names a parameter {${parameter[1]}} that a sibling path calls {${node.parameter.name}}`);
        node = node.parameter.next;
      } else {
        const key = part.toLowerCase();
        let next = node.literals.get(key);
        if (!next) node.literals.set(key, (next = segment()));
        node = next;
      }
    }
    node.operations.set(op.method.toUpperCase(), op);
  }

  // Literal segments win over parameters (/chats/search before /chats/{chatId}); when the literal
  // branch leads nowhere, the parameter branch is tried, as the old specificity sort did.
  function find(node: Segment, parts: string[], index: number, values: string[]): Segment | undefined {
    if (index === parts.length) return node.operations.size ? node : undefined;
    const part = parts[index];
    const literal = node.literals.get(part.toLowerCase());
    const viaLiteral = literal && find(literal, parts, index + 1, values);
    if (viaLiteral) return viaLiteral;
    if (node.parameter && part !== '') {
      values.push(part);
      const viaParameter = find(node.parameter.next, parts, index + 1, values);
      if (viaParameter) return viaParameter;
      values.pop();
    }
    return undefined;
  }

  function parameterNames(openapiPath: string): string[] {
    return [...openapiPath.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  }
  const namesByPath = new Map(operations.map((op) => [op.openapiPath, parameterNames(op.openapiPath)]));

  // Paths without parameters, exactly as the document spells them, by method: most requests to
  // them are answered from here without walking the tree. Any other spelling (case, trailing
  // slash) and any other method go through the walk below, which finds the same operation.
  const literalPaths = new Map<string, Map<string, BoundOperation>>();
  for (const op of operations) {
    if (op.openapiPath.includes('{')) continue;
    let byMethod = literalPaths.get(op.openapiPath);
    if (!byMethod) literalPaths.set(op.openapiPath, (byMethod = new Map()));
    byMethod.set(op.method.toUpperCase(), op);
  }

  /** The operation for a method and a path (no query string), or why there is none. */
  function match(method: string, path: string): OperationMatch | RouteError {
    const literal = literalPaths.get(path)?.get(method);
    if (literal) return { operation: literal, params: {} };
    // Non-strict routing, as Express's default: one trailing slash is ignored.
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const values: string[] = [];
    // parts[0] is the empty segment before the leading slash.
    const node = find(root, trimmed.split('/'), 1, values);
    const operation = node?.operations.get(method);
    if (!node) return new RouteError(404, 'not found');
    if (!operation) {
      return new RouteError(405, `${method} method not allowed`, method);
    }
    const names = namesByPath.get(operation.openapiPath)!;
    const params: Record<string, string> = {};
    try {
      for (let i = 0; i < names.length; i += 1) params[names[i]] = decodeURIComponent(values[i]);
    } catch {
      return new RouteError(400, 'malformed uri', method, [{ path: 'path', message: 'is not valid percent-encoding' }]);
    }
    return { operation, params };
  }

  /** Middleware: sets req.operationMatch, or fails the request with 404/405 before anything else runs. */
  function resolveOperation(req: Request, _res: Response, next: NextFunction) {
    const url = req.url;
    const query = url.indexOf('?');
    const result = match(req.method, query === -1 ? url : url.slice(0, query));
    if (result instanceof RouteError) return next(result);
    req.operationMatch = result;
    return next();
  }

  return { operations, match, resolveOperation };
}

export type OperationMatcher = ReturnType<typeof createOperationMatcher>;
