// Shared helpers of the trust-centre tests.
import { tempDir as sharedTempDir } from '../support/temp.js';

export { requireTool } from '../support/tools.js';

/** A temporary directory removed after the test (or the run) that made it. */
export const tempDir = () => sharedTempDir('trust');
