// Isolation: one table of every chat-domain operation, each tried by a second user against the
// first user's ids. Every by-id route must answer 404 (never 403, never data); every list route
// must show the intruder nothing of the owner's. The table is checked against the OpenAPI
// document, so a new route without an isolation entry fails here.
import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { listOperations } from '../../src/platform/http/openapi.js';
import { newChat, say, uploadOk } from './support.js';
import { makePdf } from './fixtures.js';

interface Ids { chatId: string; fileId: string; folderId: string; assistantId: string }
type Call = (intruder: TestUser, ids: Ids, own: Ids) => ReturnType<ReturnType<typeof api>['get']>;

const byId: Record<string, Call> = {
  getChat: (u, i) => api().get(`/api/v1/chats/${i.chatId}`).set(u.auth),
  renameChat: (u, i) => api().patch(`/api/v1/chats/${i.chatId}`).set(u.auth).send({ title: 'hijacked' }),
  deleteChat: (u, i) => api().delete(`/api/v1/chats/${i.chatId}`).set(u.auth),
  listMessages: (u, i) => api().get(`/api/v1/chats/${i.chatId}/messages`).set(u.auth),
  appendMessage: (u, i) => api().post(`/api/v1/chats/${i.chatId}/messages`).set(u.auth).send({ role: 'user', content: 'injected' }),
  exportChat: (u, i) => api().get(`/api/v1/chats/${i.chatId}/export`).set(u.auth),
  getFile: (u, i) => api().get(`/api/v1/files/${i.fileId}`).set(u.auth),
  deleteFile: (u, i) => api().delete(`/api/v1/files/${i.fileId}`).set(u.auth),
  getFileText: (u, i) => api().get(`/api/v1/files/${i.fileId}/text`).set(u.auth),
  downloadFile: (u, i) => api().get(`/api/v1/files/${i.fileId}/content`).set(u.auth),
  getSmartFolder: (u, i) => api().get(`/api/v1/smart-folders/${i.folderId}`).set(u.auth),
  renameSmartFolder: (u, i) => api().patch(`/api/v1/smart-folders/${i.folderId}`).set(u.auth).send({ name: 'hijacked' }),
  deleteSmartFolder: (u, i) => api().delete(`/api/v1/smart-folders/${i.folderId}`).set(u.auth),
  addSmartFolderMember: (u, i) => api().post(`/api/v1/smart-folders/${i.folderId}/members`).set(u.auth).send({ chatId: i.chatId }),
  removeSmartFolderChat: (u, i) => api().delete(`/api/v1/smart-folders/${i.folderId}/chats/${i.chatId}`).set(u.auth),
  removeSmartFolderFile: (u, i) => api().delete(`/api/v1/smart-folders/${i.folderId}/files/${i.fileId}`).set(u.auth),
  searchSmartFolder: (u, i) => api().post(`/api/v1/smart-folders/${i.folderId}/search`).set(u.auth).send({ query: 'file text' }),
  getSmartFolderKnowledge: (u, i) => api().get(`/api/v1/smart-folders/${i.folderId}/knowledge`).set(u.auth),
  getAssistant: (u, i) => api().get(`/api/v1/assistants/${i.assistantId}`).set(u.auth),
  updateAssistant: (u, i) => api().patch(`/api/v1/assistants/${i.assistantId}`).set(u.auth).send({ instructions: 'hijacked' }),
  deleteAssistant: (u, i) => api().delete(`/api/v1/assistants/${i.assistantId}`).set(u.auth),
};

/** The intruder's own resources pointing at the owner's: mixing ids across users is 404 too. */
const crossOwner: Record<string, Call> = {
  'addSmartFolderMember (own folder, owner chat)': (u, i, own) => api().post(`/api/v1/smart-folders/${own.folderId}/members`).set(u.auth).send({ chatId: i.chatId }),
  'addSmartFolderMember (own folder, owner file)': (u, i, own) => api().post(`/api/v1/smart-folders/${own.folderId}/members`).set(u.auth).send({ fileId: i.fileId }),
};

const lists: Record<string, (u: TestUser) => ReturnType<ReturnType<typeof api>['get']>> = {
  listChats: (u) => api().get('/api/v1/chats').set(u.auth),
  listFiles: (u) => api().get('/api/v1/files').set(u.auth),
  listSmartFolders: (u) => api().get('/api/v1/smart-folders').set(u.auth),
  listAssistants: (u) => api().get('/api/v1/assistants').set(u.auth),
  listMyTransactions: (u) => api().get('/api/v1/me/transactions').set(u.auth),
};
const creates = ['createChat', 'uploadFile', 'createSmartFolder', 'createAssistant'];

async function seedUser(user: TestUser, label: string): Promise<Ids> {
  const chat = await newChat(user, `${label} chat`);
  await say(user, chat.id, `${label} secret message`);
  const file = await uploadOk(user, `${label}.pdf`, await makePdf([`${label} file text`]));
  const folder = (await api().post('/api/v1/smart-folders').set(user.auth).send({ name: `${label} folder` })).body;
  await api().post(`/api/v1/smart-folders/${folder.id}/members`).set(user.auth).send({ chatId: chat.id });
  await api().post(`/api/v1/smart-folders/${folder.id}/members`).set(user.auth).send({ fileId: file.id });
  const assistant = (await api().post('/api/v1/assistants').set(user.auth).send({ name: `${label} bot`, instructions: `${label} instructions`, defaultModel: 'm1' })).body;
  await testContainer().chat.recordTransaction(user.id, { kind: 'purchase', amountCents: 500, currency: 'EUR', description: `${label} purchase` });
  return { chatId: chat.id, fileId: file.id, folderId: folder.id, assistantId: assistant.id };
}

describe('chat: isolation between users (every route)', () => {
  let owner: TestUser;
  let intruder: TestUser;
  let ownerIds: Ids;
  let intruderIds: Ids;

  before(async function () {
    this.timeout(60_000);
    owner = await createUser('owner');
    intruder = await createUser('intruder');
    ownerIds = await seedUser(owner, 'owner');
    intruderIds = await seedUser(intruder, 'intruder');
  });

  it('covers every chat-domain operation of the OpenAPI document', () => {
    const chatOps = listOperations(testContainer().document).filter((op) => (op.operation.tags as string[] | undefined)?.includes('chat')).map((op) => op.operationId);
    const covered = new Set([...Object.keys(byId), ...Object.keys(lists), ...creates]);
    expect(chatOps.filter((id) => !covered.has(id)), 'operations without an isolation check').to.deep.equal([]);
  });

  for (const [operationId, call] of Object.entries(byId)) {
    it(`${operationId}: another user's id is 404`, async () => {
      const res = await call(intruder, ownerIds, intruderIds);
      expect(res.status, JSON.stringify(res.body)).to.equal(404);
      expect(res.headers['content-type']).to.match(/problem\+json/);
      expect(JSON.stringify(res.body)).not.to.contain('owner');
    });
  }

  for (const [label, call] of Object.entries(crossOwner)) {
    it(`${label}: 404`, async () => {
      const res = await call(intruder, ownerIds, intruderIds);
      expect(res.status, JSON.stringify(res.body)).to.equal(404);
    });
  }

  for (const [operationId, call] of Object.entries(lists)) {
    it(`${operationId}: shows only the caller's rows`, async () => {
      const res = await call(intruder);
      expect(res.status).to.equal(200);
      expect(res.body.items.length).to.be.greaterThan(0);
      expect(JSON.stringify(res.body)).not.to.contain('owner');
      expect(JSON.stringify(res.body)).to.contain('intruder');
    });
  }

  it("leaves the owner's data exactly as it was", async () => {
    const chat = await api().get(`/api/v1/chats/${ownerIds.chatId}`).set(owner.auth);
    expect(chat.body).to.include({ title: 'owner chat', messageCount: 1 });
    const folder = await api().get(`/api/v1/smart-folders/${ownerIds.folderId}`).set(owner.auth);
    expect(folder.body).to.deep.include({ name: 'owner folder', chatIds: [ownerIds.chatId], fileIds: [ownerIds.fileId] });
    expect((await api().get(`/api/v1/assistants/${ownerIds.assistantId}`).set(owner.auth)).body.instructions).to.equal('owner instructions');
    expect((await api().get(`/api/v1/files/${ownerIds.fileId}/text`).set(owner.auth)).body.text).to.contain('owner file text');
    const intruderFolder = await api().get(`/api/v1/smart-folders/${intruderIds.folderId}`).set(intruder.auth);
    expect(intruderFolder.body.chatIds).to.deep.equal([intruderIds.chatId]);
  });
});
