// The contract: openapi/openapi.yaml is the root; openapi/paths/<domain>.yaml hold each domain's
// paths and openapi/components/<topic>.yaml its components. They are merged here into the one
// document the validator, the route binder and /docs all use; a name defined twice is an error.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components: Record<string, Record<string, unknown>>;
  security?: Array<Record<string, string[]>>;
  [key: string]: unknown;
};

export type OperationObject = {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  'x-custos-roles'?: string[];
  'x-custos-allow-pending-deletion'?: boolean;
  [key: string]: unknown;
};

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

const here = dirname(fileURLToPath(import.meta.url));
// src/platform/http -> repo root, or dist/src/platform/http -> its parent (the Dockerfile copies openapi/ there).
export const openapiDir = [join(here, '..', '..', '..', 'openapi'), join(here, '..', '..', '..', '..', 'openapi')]
  .find((dir) => { try { readdirSync(dir); return true; } catch { return false; } }) ?? join(here, '..', '..', '..', 'openapi');

const yamlFiles = (dir: string) => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
};

let cached: OpenApiDocument | undefined;

export function loadOpenApi(dir = openapiDir): OpenApiDocument {
  if (cached && dir === openapiDir) return structuredClone(cached);
  const root = parse(readFileSync(join(dir, 'openapi.yaml'), 'utf8')) as OpenApiDocument;
  root.paths ??= {};
  root.components ??= {};
  for (const file of yamlFiles(join(dir, 'paths'))) {
    const paths = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, OperationObject>>;
    for (const [path, item] of Object.entries(paths ?? {})) {
      if (root.paths[path]) throw new Error(`OpenAPI: path ${path} is defined twice (again in ${file})`);
      root.paths[path] = item;
    }
  }
  for (const file of yamlFiles(join(dir, 'components'))) {
    const components = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    for (const [section, entries] of Object.entries(components ?? {})) {
      root.components[section] ??= {};
      for (const [name, value] of Object.entries(entries ?? {})) {
        if (root.components[section][name]) throw new Error(`OpenAPI: components.${section}.${name} is defined twice (again in ${file})`);
        root.components[section][name] = value;
      }
    }
  }
  if (dir === openapiDir) cached = root;
  return structuredClone(root);
}

export interface BoundOperation {
  method: (typeof HTTP_METHODS)[number];
  openapiPath: string;
  expressPath: string;
  operationId: string;
  operation: OperationObject;
}

/** Every operation of the document, with an Express path ("/chats/{chatId}" -> "/chats/:chatId"). */
export function listOperations(doc: OpenApiDocument): BoundOperation[] {
  const operations: BoundOperation[] = [];
  for (const [openapiPath, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      if (!operation.operationId) throw new Error(`OpenAPI: ${method.toUpperCase()} ${openapiPath} has no operationId`);
      operations.push({
        method,
        openapiPath,
        expressPath: openapiPath.replace(/\{([^}]+)\}/g, ':$1'),
        operationId: operation.operationId,
        operation,
      });
    }
  }
  return operations;
}
