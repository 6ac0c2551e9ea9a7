// Multipart parsing for the trust centre's staff uploads (documents, questionnaires): one part
// named "file", in memory, bounded by the upload limit. The validator runs first with
// fileUploader off, so authorization happens before a byte of the file is buffered.
import type { Request, Response } from 'express';
import multer from 'multer';
import { BadRequestError, PayloadTooLargeError } from '../../platform/http/problem.js';

export function singleFileUpload(limitBytes: number) {
  const single = multer({ storage: multer.memoryStorage(), limits: { fileSize: limitBytes, files: 1, fields: 0, parts: 1 }, defParamCharset: 'utf8' }).single('file');
  return (req: Request, res: Response) => new Promise<Express.Multer.File>((resolve, reject) => {
    single(req, res, (error?: unknown) => {
      if (error instanceof multer.MulterError) {
        if (error.code === 'LIMIT_FILE_SIZE') return reject(new PayloadTooLargeError(`The file is larger than the ${limitBytes} bytes allowed (CUSTOS_UPLOAD_LIMIT_BYTES).`));
        return reject(new BadRequestError(`Send exactly one part, named "file" (${error.message}).`, [{ field: 'body.file', message: error.message }]));
      }
      if (error) return reject(new BadRequestError('The multipart body could not be read; send one part named "file".'));
      if (!req.file) return reject(new BadRequestError('Send the file as a multipart part named "file".', [{ field: 'body.file', message: 'is required' }]));
      return resolve(req.file);
    });
  });
}
