// Handlers keyed by operationId: parse, call the service, respond. Every handler acts for the
// authenticated user only; ids in the path are looked up within that user's rows.
import type { Request, Response } from 'express';
import multer from 'multer';
import { requireUser } from '../../platform/http/auth.js';
import { BadRequestError, PayloadTooLargeError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { ChatService } from './chat-service.js';
import { assistantView, chatView, fileView, folderView, messageView, pageView, transactionView } from './chat-views.js';
import type { ChatLibraryService } from './chat-library-service.js';

const page = (req: Request) => ({ limit: Number(req.query.limit ?? 50), cursor: req.query.cursor as string | undefined });
const param = (req: Request, name: string) => String(req.params[name]);


/** RFC 6266 filename*: survives non-ASCII names without letting a quote or newline break the header. */
const attachment = (name: string) => `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

/**
 * Multipart parsing for the one upload route, in memory and bounded by the upload limit (busboy
 * stops reading past it). The validator runs first with fileUploader off, so authentication and
 * the content-type check happen before a byte of the file is buffered.
 */
function uploadParser(limitBytes: number) {
  const single = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limitBytes, files: 1, fields: 0, parts: 1 },
    // Browsers and curl send UTF-8 file names without a charset parameter.
    defParamCharset: 'utf8',
  }).single('file');
  return (req: Request, res: Response) => new Promise<Express.Multer.File>((resolve, reject) => {
    single(req, res, (error?: unknown) => {
      if (error instanceof multer.MulterError) {
        if (error.code === 'LIMIT_FILE_SIZE') {
          return reject(new PayloadTooLargeError(`The file is larger than the ${limitBytes} bytes allowed (CUSTOS_UPLOAD_LIMIT_BYTES). Nothing was stored.`));
        }
        return reject(new BadRequestError(`Send exactly one part, named "file" (${error.message}).`, [{ field: 'body.file', message: error.message }]));
      }
      if (error) return reject(new BadRequestError('The multipart body could not be read; send one part named "file".'));
      if (!req.file) return reject(new BadRequestError('Send the file as a multipart part named "file".', [{ field: 'body.file', message: 'is required' }]));
      return resolve(req.file);
    });
  });
}

export function chatRoutes(chat: ChatService, library: ChatLibraryService, uploadLimitBytes: number): RouteTable {
  const parseUpload = uploadParser(uploadLimitBytes);
  const member = (req: Request) => ({ chatId: req.body.chatId as string | undefined, fileId: req.body.fileId as string | undefined });

  return {
    listChats: async (req, res) => {
      res.json(pageView(await chat.listChats(requireUser(req).userId, page(req)), chatView));
    },
    createChat: async (req, res) => {
      res.status(201).json(chatView(await chat.createChat(requireUser(req).userId, req.body.title)));
    },
    getChat: async (req, res) => {
      res.json(chatView(await chat.getChat(requireUser(req).userId, param(req, 'chatId'))));
    },
    renameChat: async (req, res) => {
      res.json(chatView(await chat.renameChat(requireUser(req).userId, param(req, 'chatId'), req.body.title)));
    },
    deleteChat: async (req, res) => {
      await chat.deleteChat(requireUser(req).userId, param(req, 'chatId'));
      res.status(204).end();
    },
    listMessages: async (req, res) => {
      res.json(pageView(await chat.listMessages(requireUser(req).userId, param(req, 'chatId'), page(req)), messageView));
    },
    appendMessage: async (req, res) => {
      res.status(201).json(messageView(await chat.appendMessage(requireUser(req).userId, param(req, 'chatId'), req.body)));
    },
    exportChat: async (req, res) => {
      const format = req.query.format === 'markdown' ? 'markdown' : 'json';
      const { chat: exported, chunks } = await chat.exportChat(requireUser(req).userId, param(req, 'chatId'), format);
      res.status(200)
        .type(format === 'json' ? 'application/json' : 'text/markdown; charset=utf-8')
        .set('Content-Disposition', attachment(`chat-${exported.id}.${format === 'json' ? 'json' : 'md'}`));
      for await (const chunk of chunks) {
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    },

    listFiles: async (req, res) => {
      res.json(pageView(await library.listFiles(requireUser(req).userId, page(req)), fileView));
    },
    uploadFile: async (req, res) => {
      const userId = requireUser(req).userId;
      const file = await parseUpload(req, res);
      res.status(201).json(fileView(await library.uploadFile(userId, { fileName: file.originalname, bytes: file.buffer })));
    },
    getFile: async (req, res) => {
      res.json(fileView(await library.getFile(requireUser(req).userId, param(req, 'fileId'))));
    },
    deleteFile: async (req, res) => {
      await library.deleteFile(requireUser(req).userId, param(req, 'fileId'));
      res.status(204).end();
    },
    getFileText: async (req, res) => {
      const fileId = param(req, 'fileId');
      res.json({ fileId, text: await library.getFileText(requireUser(req).userId, fileId) });
    },
    downloadFile: async (req, res) => {
      const { file, bytes } = await library.readFileContent(requireUser(req).userId, param(req, 'fileId'));
      res.status(200).type('application/octet-stream').set('Content-Disposition', attachment(file.name)).send(bytes);
    },

    listSmartFolders: async (req, res) => {
      res.json(pageView(await library.listSmartFolders(requireUser(req).userId, page(req)), folderView));
    },
    createSmartFolder: async (req, res) => {
      res.status(201).json(folderView(await library.createSmartFolder(requireUser(req).userId, req.body.name)));
    },
    getSmartFolder: async (req, res) => {
      res.json(folderView(await library.getSmartFolder(requireUser(req).userId, param(req, 'folderId'))));
    },
    renameSmartFolder: async (req, res) => {
      res.json(folderView(await library.renameSmartFolder(requireUser(req).userId, param(req, 'folderId'), req.body.name)));
    },
    deleteSmartFolder: async (req, res) => {
      await library.deleteSmartFolder(requireUser(req).userId, param(req, 'folderId'));
      res.status(204).end();
    },
    addSmartFolderMember: async (req, res) => {
      res.json(folderView(await library.addSmartFolderMember(requireUser(req).userId, param(req, 'folderId'), member(req))));
    },
    removeSmartFolderChat: async (req, res) => {
      await library.removeSmartFolderMember(requireUser(req).userId, param(req, 'folderId'), { chatId: param(req, 'chatId') });
      res.status(204).end();
    },
    removeSmartFolderFile: async (req, res) => {
      await library.removeSmartFolderMember(requireUser(req).userId, param(req, 'folderId'), { fileId: param(req, 'fileId') });
      res.status(204).end();
    },

    listAssistants: async (req, res) => {
      res.json(pageView(await library.listAssistants(requireUser(req).userId, page(req)), assistantView));
    },
    createAssistant: async (req, res) => {
      const { name, instructions, defaultModel } = req.body;
      res.status(201).json(assistantView(await library.createAssistant(requireUser(req).userId, { name, instructions, defaultModel })));
    },
    getAssistant: async (req, res) => {
      res.json(assistantView(await library.getAssistant(requireUser(req).userId, param(req, 'assistantId'))));
    },
    updateAssistant: async (req, res) => {
      const { name, instructions, defaultModel } = req.body;
      res.json(assistantView(await library.updateAssistant(requireUser(req).userId, param(req, 'assistantId'), { name, instructions, defaultModel })));
    },
    deleteAssistant: async (req, res) => {
      await library.deleteAssistant(requireUser(req).userId, param(req, 'assistantId'));
      res.status(204).end();
    },

    listMyTransactions: async (req, res) => {
      const userId = requireUser(req).userId;
      const [ledger, balances] = await Promise.all([library.listTransactions(userId, page(req)), library.balances(userId)]);
      res.json({ ...pageView(ledger, transactionView), balances });
    },
  };
}
