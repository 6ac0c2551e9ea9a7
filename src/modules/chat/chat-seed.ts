// Demo data for the demo user: a few chats with messages, a file, a smart folder, an assistant
// and a small credit ledger. Idempotent: it does nothing once the demo user has any chat.
import type { DemoAccounts } from '../../platform/platform.js';
import type { ChatLibraryService } from './chat-library-service.js';
import type { ChatService } from './chat-service.js';

type SeedService = Pick<ChatService, 'listChats' | 'createChat' | 'appendMessage'>
  & Pick<ChatLibraryService, 'uploadFile' | 'createSmartFolder' | 'addSmartFolderMember' | 'createAssistant' | 'recordTransaction'>;

const DEMO_CHATS: Array<{ title: string; turns: Array<[string, string]> }> = [
  {
    title: 'Trip to Lisbon',
    turns: [
      ['Plan three days in Lisbon in October.', 'Day 1: Alfama and the castle; day 2: Belém; day 3: Sintra by train.'],
      ['Where should we eat near Belém?', 'Try the pastéis de Belém, then lunch at a tasca along Rua de Belém.'],
    ],
  },
  {
    title: 'Quarterly report draft',
    turns: [['Summarise the Q3 numbers in the attached notes.', 'Revenue grew 12% quarter on quarter; churn fell to 2.1%.']],
  },
  {
    title: 'Regex help',
    turns: [['A regex for ISO dates?', 'Use ^\\d{4}-\\d{2}-\\d{2}$ and validate the ranges in code.']],
  },
];

const DEMO_NOTES = '# Q3 notes\n\nRevenue: up 12% on Q2.\nChurn: 2.1%.\nNew customers: 140.\n';

export async function seedChatDemo(chat: SeedService, demo: DemoAccounts): Promise<void> {
  const existing = await chat.listChats(demo.userId, { limit: 1 });
  if (existing.items.length > 0) return;

  const chatIds: string[] = [];
  for (const { title, turns } of DEMO_CHATS) {
    const created = await chat.createChat(demo.userId, title);
    chatIds.push(created.id);
    for (const [question, answer] of turns) {
      await chat.appendMessage(demo.userId, created.id, { role: 'user', content: question });
      await chat.appendMessage(demo.userId, created.id, { role: 'assistant', content: answer, model: 'gpt-4o-mini', promptTokens: 42, completionTokens: 64 });
    }
  }
  const file = await chat.uploadFile(demo.userId, { fileName: 'q3-notes.md', bytes: Buffer.from(DEMO_NOTES, 'utf8') });
  const folder = await chat.createSmartFolder(demo.userId, 'Work');
  await chat.addSmartFolderMember(demo.userId, folder.id, { chatId: chatIds[1] });
  await chat.addSmartFolderMember(demo.userId, folder.id, { fileId: file.id });
  await chat.createAssistant(demo.userId, {
    name: 'Travel planner',
    instructions: 'You plan short city trips. Prefer public transport and local food.',
    defaultModel: 'gpt-4o-mini',
  });
  await chat.recordTransaction(demo.userId, { kind: 'purchase', amountCents: 2000, currency: 'EUR', description: 'Demo credit pack' });
  await chat.recordTransaction(demo.userId, { kind: 'usage', amountCents: 37, currency: 'EUR', description: 'Chat usage, gpt-4o-mini' });
  await chat.recordTransaction(demo.userId, { kind: 'refund', amountCents: 37, currency: 'EUR', description: 'Goodwill refund of a failed reply' });
}
