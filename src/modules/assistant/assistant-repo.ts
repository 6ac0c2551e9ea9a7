// The assistant module's SQL: the user's own provider tokens (BYOK) and the metadata of the AI
// replies stored in chats. Tokens are sealed and opened here with the field cipher under the
// user's data key, bound to their row, so plaintext never reaches PostgreSQL and ciphertext never
// leaves this file.
import type { Knex } from '../../platform/db.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { ProviderName } from '../relay/relay-catalogue.js';
import type { Citation, CompletionRecord, NewCompletion } from './assistant-types.js';

interface CompletionRow {
  id: string; user_id: string; chat_id: string; message_id: string; seq: number; model: string; provider: ProviderName; assistant_id: string | null;
  status: 'complete' | 'incomplete'; token_source: 'platform' | 'user'; input_tokens: number; output_tokens: number; cached_tokens: number;
  cost_microcents: string | number; citations: Citation[]; created_at: Date;
}

const toCompletion = (r: CompletionRow): CompletionRecord => ({
  id: r.id, chatId: r.chat_id, messageId: r.message_id, model: r.model, provider: r.provider, assistantId: r.assistant_id, status: r.status,
  tokenSource: r.token_source, inputTokens: r.input_tokens, outputTokens: r.output_tokens, cachedTokens: r.cached_tokens,
  costMicrocents: Number(r.cost_microcents), citations: r.citations ?? [], createdAt: r.created_at,
});

/** The token's AES-GCM associated data: the row it belongs to (its primary key). */
export const tokenAt = (userId: string, provider: string) => ({ table: 'provider_tokens', column: 'token_enc', rowId: `${userId}/${provider}` });

export function createAssistantRepo(db: Knex, cipher: Pick<FieldCipher, 'encryptText' | 'decryptText'>) {
  return {
    async storeToken(userId: string, provider: ProviderName, token: string): Promise<{ createdAt: Date; updatedAt: Date }> {
      const token_enc = await cipher.encryptText(userId, tokenAt(userId, provider), token);
      const [row] = await db('provider_tokens').insert({ user_id: userId, provider, token_enc })
        .onConflict(['user_id', 'provider']).merge({ token_enc, updated_at: db.fn.now() })
        .returning(['created_at', 'updated_at']);
      return { createdAt: row.created_at, updatedAt: row.updated_at };
    },

    async token(userId: string, provider: ProviderName): Promise<string | null> {
      const row = await db('provider_tokens').where({ user_id: userId, provider }).first('token_enc');
      return row ? cipher.decryptText(tokenAt(userId, provider), row.token_enc) : null;
    },

    /** Every stored token of the user, decrypted (the caller keeps only what it may show). */
    async tokens(userId: string): Promise<Array<{ provider: ProviderName; token: string; createdAt: Date; updatedAt: Date }>> {
      const rows = await db('provider_tokens').where({ user_id: userId }).orderBy('provider');
      return Promise.all(rows.map(async (r) => ({
        provider: r.provider, token: await cipher.decryptText(tokenAt(userId, r.provider), r.token_enc), createdAt: r.created_at, updatedAt: r.updated_at,
      })));
    },

    /** Providers and dates only: what an export may hold (never the value, not even sealed). */
    async tokenList(userId: string): Promise<Array<{ provider: ProviderName; createdAt: Date; updatedAt: Date }>> {
      const rows = await db('provider_tokens').where({ user_id: userId }).orderBy('provider').select('provider', 'created_at', 'updated_at');
      return rows.map((r) => ({ provider: r.provider, createdAt: r.created_at, updatedAt: r.updated_at }));
    },

    async deleteToken(userId: string, provider: ProviderName): Promise<boolean> {
      return (await db('provider_tokens').where({ user_id: userId, provider }).delete()) > 0;
    },

    /** Written in the transaction that stores the reply's message, so neither lands without the other. */
    async insertCompletion(trx: Knex.Transaction, userId: string, c: NewCompletion): Promise<CompletionRecord> {
      const [row] = await trx('completions').insert({
        id: c.id, user_id: userId, chat_id: c.chatId, message_id: c.messageId, model: c.model, provider: c.provider, assistant_id: c.assistantId,
        status: c.status, token_source: c.tokenSource, input_tokens: c.inputTokens, output_tokens: c.outputTokens, cached_tokens: c.cachedTokens,
        cost_microcents: c.costMicrocents, citations: JSON.stringify(c.citations),
      }).returning('*');
      return toCompletion(row);
    },

    /** Keyset batches (exports): flat memory whatever the count. */
    async *eachCompletion(userId: string, batchSize = 1000): AsyncGenerator<CompletionRecord> {
      let after = 0;
      for (;;) {
        const rows: CompletionRow[] = await db('completions').where('user_id', userId).andWhere('seq', '>', after).orderBy('seq').limit(batchSize);
        for (const row of rows) yield toCompletion(row);
        if (rows.length < batchSize) return;
        after = Number(rows[rows.length - 1].seq);
      }
    },
  };
}

export type AssistantRepo = ReturnType<typeof createAssistantRepo>;
