// Runs the demo web wallet for a person: the same stack as the browser test (walletd --mode=all on SQLite in a temp
// dir, the interop issuer and verifier, the demo on http://localhost:$DEMO_PORT, default 3000), until Ctrl-C.
// Type `o` for a fresh credential offer to paste, `p` for a presentation request, `q` to stop.
import readline from 'node:readline';
import { newOffer, newRequest, startStack } from './stack.mjs';

const stack = await startStack({ demoPort: Number(process.env.DEMO_PORT ?? 3000) });
console.log(`
walletd demo wallet: open ${stack.demoOrigin} (a browser and passkey with PRF: recent Chrome or Edge with a
platform passkey or a security key with hmac-secret).
  walletd   ${stack.walletdUrl} (data in ${stack.dataDir}, removed on exit)
  issuer    ${stack.issuerUrl}
  verifier  ${stack.verifierUrl}
Type o + Enter for a credential offer, p + Enter for a presentation request, q + Enter to stop.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  try {
    const cmd = line.trim();
    if (cmd === 'o') console.log(`offer:   ${(await newOffer(stack.issuerUrl)).offer}`);
    else if (cmd === 'p') console.log(`request: ${(await newRequest(stack.verifierUrl, stack.issuerUrl)).url}`);
    else if (cmd === 'q') await stop();
  } catch (e) {
    console.error(String(e));
  }
});
