// Handlers keyed by operationId: the customer's key and usage routes under /api/v1/me, and the
// OpenAI-compatible relay under /v1. Parse, call the service, respond.
import type { Request, Response } from 'express';
import { requireUser } from '../../platform/http/auth.js';
import { sendJson } from '../../platform/http/json-body.js';
import { UnauthorizedError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { StreamSink } from './relay-calls.js';
import type { RelayService } from './relay-service.js';
import type { ApiKeyCredential, ApiKeyRecord, UsageRow } from './relay-types.js';
import { spendPeriod } from './spend-limiter.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const cents = (microcents: number) => Math.round(microcents / 10_000) / 100;

const keyView = (service: RelayService, k: ApiKeyRecord & { spentMicrocents?: number }) => ({
  id: k.id,
  prefix: service.displayPrefix(k),
  name: k.name,
  environment: k.environment,
  spendingLimitCents: k.spendingLimitCents,
  spentCents: cents(k.spentMicrocents ?? 0),
  models: k.models,
  createdAt: k.createdAt.toISOString(),
  expiresAt: iso(k.expiresAt),
  lastUsedAt: iso(k.lastUsedAt),
  replacedBy: k.replacedBy,
});

const usageView = (u: UsageRow) => ({
  day: u.day, apiKeyId: u.apiKeyId, model: u.model, environment: u.environment, requests: u.requests,
  inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedTokens: u.cachedTokens, costCents: cents(u.costMicrocents),
});

/** The HTTP response as a stream sink: SSE headers, writes that respect backpressure, abort detection. */
export function responseSink(res: Response): StreamSink {
  return {
    start() {
      res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      res.socket?.setNoDelay(true);
      res.flushHeaders();
    },
    write(text) {
      if (res.destroyed || res.writableEnded) return Promise.resolve();
      if (res.write(text)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
      });
    },
    end() {
      if (!res.writableEnded) res.end();
    },
    onAbort(listener) {
      res.on('close', () => { if (!res.writableFinished) listener(); });
    },
  };
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function relayRoutes(service: RelayService, credentialOf: (req: Request) => ApiKeyCredential | undefined): RouteTable {
  const key = (req: Request) => {
    const credential = credentialOf(req);
    if (!credential) throw new UnauthorizedError();
    return credential;
  };
  return {
    createMyApiKey: async (req, res) => {
      const { userId } = requireUser(req);
      const body = req.body as { name: string; environment: 'live' | 'test'; spendingLimitCents?: number | null; expiresAt?: string | null; models?: string[] | null };
      const { record, key: secret } = await service.createKey(userId, {
        name: body.name, environment: body.environment, spendingLimitCents: body.spendingLimitCents ?? null,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null, models: body.models ?? null,
      });
      res.status(201).json({ ...keyView(service, record), key: secret });
    },

    listMyApiKeys: async (req, res) => {
      const { userId } = requireUser(req);
      res.json({ period: spendPeriod(), items: (await service.listKeys(userId)).map((k) => keyView(service, k)) });
    },

    revokeMyApiKey: async (req, res) => {
      await service.revokeKey(requireUser(req).userId, String(req.params.keyId));
      res.status(204).end();
    },

    rotateMyApiKey: async (req, res) => {
      const overlap = Number((req.body as { overlapSeconds?: number } | undefined)?.overlapSeconds ?? 3600);
      const rotated = await service.rotateKey(requireUser(req).userId, String(req.params.keyId), overlap);
      res.status(201).json({ ...keyView(service, rotated.record), key: rotated.key, replaces: { id: rotated.old.id, expiresAt: rotated.old.expiresAt!.toISOString() } });
    },

    getMyRelayUsage: async (req, res) => {
      const { userId } = requireUser(req);
      const to = (req.query.to as string | undefined) ?? day(new Date());
      const from = (req.query.from as string | undefined) ?? day(new Date(Date.now() - 30 * 86_400_000));
      res.json({ from, to, currency: service.currency, items: (await service.usage(userId, from, to)).map(usageView) });
    },

    listRelayModels: async (req, res) => {
      key(req);
      const { catalogue } = service;
      res.json({
        object: 'list',
        data: catalogue.models.map((m) => ({
          id: m.id, object: 'model', created: 0, owned_by: m.provider,
          pricing: { currency: 'USD', unit: '1M tokens', input: m.input, output: m.output, cachedInput: m.cachedInput },
          provider_paid_tier: catalogue.providers[m.provider].paidTier,
        })),
      });
    },

    createChatCompletion: async (req, res) => {
      const credential = key(req);
      const body = req.body as Record<string, unknown>;
      if (body.stream === true) {
        await service.stream(credential, body, responseSink(res));
        return;
      }
      sendJson(res, await service.complete(credential, body));
    },

    createEmbedding: async (req, res) => {
      sendJson(res, await service.embed(key(req), req.body as Record<string, unknown>));
    },
  };
}
