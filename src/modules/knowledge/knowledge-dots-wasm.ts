// knowledge-dots.wat assembled by wabt 1.0.39 (wat2wasm with SIMD), base64. 236 bytes: a single
// exported function, no imports, no host access. Regenerate after editing the .wat:
//   npx -p wabt@1.0.39 node -e "require('wabt')().then(w=>process.stdout.write(Buffer.from(w.parseWat('d',require('fs').readFileSync('src/modules/knowledge/knowledge-dots.wat','utf8'),{simd:true}).toBinary({}).buffer).toString('base64')))"
export const DOTS_WASM_BASE64 = 'AGFzbQEAAAABCQFgBX9/f39/AAMCAQAFAwEAAgcRAgZtZW1vcnkCAARkb3RzAAAKtAEBsQECA38CewJAA0AgBSACTw0B/QwAAAAAAAAAAAAAAAAAAAAAIQhBACEGIAEhBwJAA0AgBiADTw0BIAD9AAQAIQkgCCAJ/YcBIAf9AAQA/boB/a4BIQggCCAJ/YgBIAf9AAQQ/boB/a4BIQggAEEQaiEAIAdBIGohByAGQRBqIQYMAAsLIAQgCP0bACAI/RsBaiAI/RsCIAj9GwNqajYCACAEQQRqIQQgBUEBaiEFDAALCws=';
