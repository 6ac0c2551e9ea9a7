// The limits every text extraction runs under, and the refusal a file gets when it hits one. Shared
// by the API thread (the pool) and the extraction worker, so it imports nothing heavy.

/** What a refused file hit; the 422 problem carries it as `limit`. */
export type ExtractionLimit = 'pages' | 'time' | 'memory' | 'inflatedSize' | 'entries' | 'nesting';

export interface ExtractionLimits {
  /** Wall-clock time of one extraction; the worker is terminated beyond it. */
  timeoutMs: number;
  maxPages: number;
  /** V8 old-generation heap of the extraction worker (resourceLimits.maxOldGenerationSizeMb). */
  maxHeapMb: number;
  /** Bytes a DOCX/XLSX may really inflate to, counted while inflating (declared sizes are ignored). */
  maxInflatedBytes: number;
  maxZipEntries: number;
  maxXmlDepth: number;
}

/** A file refused by a limit (as opposed to a corrupt one). `detail` says what it did: "it has …". */
export class ExtractionRefusal extends Error {
  constructor(readonly limit: ExtractionLimit, readonly detail: string) {
    super(detail);
    this.name = 'ExtractionRefusal';
  }
}
