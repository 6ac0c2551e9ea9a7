// Anthropic and Gemini behind the OpenAI protocol, seen through the official OpenAI SDK: text,
// tool calls with OpenAI's indices, stop reasons, cache tokens, usage (cumulative, not summed),
// and mid-stream error events that end the stream without the provider's text.
import { expect } from 'chai';
import OpenAI from 'openai';
import { createUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { LIVE_PROVIDER_KEY, createKey, startRelay, type CreatedKey, type RelayHarness, settled } from './support.js';

type Params = OpenAI.ChatCompletionCreateParamsNonStreaming;
const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  const indices: number[] = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    text += choice.delta?.content ?? '';
    for (const call of choice.delta?.tool_calls ?? []) {
      if (!indices.includes(call.index)) indices.push(call.index);
      calls[call.index] ??= { arguments: '' };
      if (call.id) calls[call.index].id = call.id;
      if (call.function?.name) calls[call.index].name = call.function.name;
      calls[call.index].arguments += call.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return { text, finish, usage, calls, indices };
}

for (const provider of ['anthropic', 'google'] as const) {
  const model = provider === 'anthropic' ? 'anthropic/claude-haiku-4-5' : 'google/gemini-2.5-flash';
  // Fake usage: Anthropic input + 3 cache reads + 1 cache write, 9 output (1 at start, 9 cumulative at the end);
  // Gemini 5 candidates + 2 thinking tokens, 1 cached.
  const expected = provider === 'anthropic' ? { extraInput: 4, output: 9, cached: 3 } : { extraInput: 0, output: 7, cached: 1 };

  describe(`relay: ${provider} behind the OpenAI protocol`, function () {
    this.timeout(60_000);
    let h: RelayHarness;
    let key: CreatedKey;
    let client: OpenAI;
    const ask = (content: string, extra: Partial<Params> = {}): Params => ({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], ...extra });
    before(async () => {
      h = await startRelay();
      key = await createKey(h, await createUser(`relay-${provider}`));
      client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
    });
    after(async () => { await h.close(); });

    it('non-stream: text, usage with cache tokens, the request translated, the provider credential sent', async () => {
      const completion = await client.chat.completions.create(ask('hello'));
      expect(completion.choices[0].message.content).to.equal('You said: hello');
      expect(completion.choices[0].finish_reason).to.equal('stop');
      expect(completion.usage!.completion_tokens).to.equal(expected.output);
      expect(completion.usage!.prompt_tokens_details?.cached_tokens).to.equal(expected.cached);
      const sent = h.fake.bodies.at(-1)!;
      if (provider === 'anthropic') {
        expect(sent).to.include({ system: 'Be brief.', model: 'claude-haiku-4-5' });
        expect(sent.max_tokens).to.be.a('number');
        expect(sent.messages).to.deep.equal([{ role: 'user', content: [{ type: 'text', text: 'hello' }] }]);
        expect(h.fake.authorizations.at(-1)).to.equal(`x-api-key ${LIVE_PROVIDER_KEY}-anthropic`);
      } else {
        expect(sent.systemInstruction).to.deep.equal({ parts: [{ text: 'Be brief.' }] });
        expect(sent.contents).to.deep.equal([{ role: 'user', parts: [{ text: 'hello' }] }]);
        expect(h.fake.authorizations.at(-1)).to.equal(`x-goog-api-key ${LIVE_PROVIDER_KEY}-google`);
      }
      await settled(h);
      const row = await testContainer().platform.db('relay_log').where({ api_key_id: key.id }).orderBy('id', 'desc').first();
      expect(row).to.include({ provider, model, output_tokens: expected.output, cached_tokens: expected.cached, status: 200 });
    });

    it('non-stream tool calls', async () => {
      const completion = await client.chat.completions.create(ask('[[tool]] weather?', { tools }));
      const calls = completion.choices[0].message.tool_calls! as OpenAI.ChatCompletionMessageFunctionToolCall[];
      expect(calls.map((c) => c.function.name)).to.deep.equal(['weather', 'time']);
      expect(JSON.parse(calls[0].function.arguments)).to.deep.equal({ city: 'Paris' });
      expect(completion.choices[0].finish_reason).to.equal('tool_calls');
    });

    it('stream: text, stop reason, usage counted once (cumulative, not summed)', async () => {
      const result = await collect(await client.chat.completions.create({ ...ask('stream please'), stream: true, stream_options: { include_usage: true } }));
      expect(result.text).to.equal('You said: stream please');
      expect(result.finish).to.equal('stop');
      expect(result.usage!.completion_tokens).to.equal(expected.output);
      expect(result.usage!.prompt_tokens_details?.cached_tokens).to.equal(expected.cached);
      expect(result.usage!.prompt_tokens).to.be.greaterThan(expected.extraInput);
      const plain = await collect(await client.chat.completions.create({ ...ask('no usage'), stream: true }));
      expect(plain.usage).to.equal(undefined);
      await settled(h);
      const row = await testContainer().platform.db('relay_log').where({ api_key_id: key.id }).orderBy('id', 'desc').first();
      expect(row.output_tokens, 'usage taken from the stream even when the client did not ask').to.equal(expected.output);
    });

    it('stream: tool calls indexed 0, 1 in order, arguments assembled, finish_reason tool_calls', async () => {
      const result = await collect(await client.chat.completions.create({ ...ask('[[tool]] weather?', { tools }), stream: true }));
      expect(result.indices).to.deep.equal([0, 1]);
      expect(result.calls.map((c) => c.name)).to.deep.equal(['weather', 'time']);
      expect(result.calls.map((c) => JSON.parse(c.arguments))).to.deep.equal([{ city: 'Paris' }, { zone: 'UTC' }]);
      expect(result.calls.every((c) => typeof c.id === 'string' && c.id.length > 0)).to.equal(true);
      expect(result.finish).to.equal('tool_calls');
    });

    if (provider === 'anthropic') {
      it('stop reasons: max_tokens → length', async () => {
        expect((await client.chat.completions.create(ask('[[max]] long'))).choices[0].finish_reason).to.equal('length');
        expect((await collect(await client.chat.completions.create({ ...ask('[[max]] long'), stream: true }))).finish).to.equal('length');
      });

      it('a tool round trip is sent as tool_use / tool_result blocks in alternating turns', async () => {
        await client.chat.completions.create({
          model,
          messages: [
            { role: 'user', content: 'weather in Paris?' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
            { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
            { role: 'user', content: 'thanks' },
          ],
        });
        expect(h.fake.bodies.at(-1)!.messages).to.deep.equal([
          { role: 'user', content: [{ type: 'text', text: 'weather in Paris?' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }, { type: 'text', text: 'thanks' }] },
        ]);
      });
    }

    it('mid-stream error event: the stream ends with an OpenAI error, never the provider text', async () => {
      const res = await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...ask('[[midstream-error]] hidden-words'), stream: true }) });
      const text = await res.text();
      expect(text).to.include('"code":"upstream_error"');
      expect(text).not.to.include('hidden-words');
      expect(text).not.to.match(/Overloaded/);
      // The record is written just after the client's stream ends.
      let row: { reason: string; status: number } | undefined;
      for (let i = 0; i < 50 && !row; i++) {
        row = await testContainer().platform.db('relay_log').where({ api_key_id: key.id, reason: 'stream_error' }).first();
        if (!row) await new Promise((r) => setTimeout(r, 20));
      }
      expect(row, 'a stream_error record').to.exist;
      expect(row!.status).to.equal(502);
    });

    it('provider error status: 502 without the provider body', async () => {
      const error = await client.chat.completions.create(ask('[[status:500]] secret-bits')).catch((e: unknown) => e) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status).to.equal(502);
      expect(JSON.stringify(error.error)).not.to.include('secret-bits');
    });
  });
}
