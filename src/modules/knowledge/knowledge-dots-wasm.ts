// knowledge-dots.wat assembled by wabt 1.0.39 (wat2wasm with SIMD), base64. 230 bytes: a single
// exported function, no imports, no host access. Regenerate after editing the .wat:
//   npm install --no-save wabt@1.0.39 && node -e "require('wabt')().then((w) => process.stdout.write(Buffer.from(w.parseWat('dots.wat',
//     require('fs').readFileSync('src/modules/knowledge/knowledge-dots.wat', 'utf8'), { simd: true }).toBinary({}).buffer).toString('base64')))"
// test/knowledge/vectors.test.ts checks the kernel against the JavaScript loop.
export const DOTS_WASM_BASE64 = 'AGFzbQEAAAABCQFgBX9/f39/AAMCAQAFAwEAAgcRAgZtZW1vcnkCAARkb3RzAAAKtAEBsQECA38CewJAA0AgBSACTw0B/QwAAAAAAAAAAAAAAAAAAAAAIQhBACEGIAEhBwJAA0AgBiADTw0BIAD9AAQAIQkgCCAJ/YcBIAf9AAQA/boB/a4BIQggCCAJ/YgBIAf9AAQQ/boB/a4BIQggAEEQaiEAIAdBIGohByAGQRBqIQYMAAsLIAQgCP0bACAI/RsBaiAI/RsCIAj9GwNqajYCACAEQQRqIQQgBUEBaiEFDAALCws=';
