/**
 * `npm run demo`: sends a real message through an SMTP server embedded in this
 * process (the smtp-server dev dependency, on 127.0.0.1 with a fixture
 * certificate), with STARTTLS verified against the fixture CA, and prints the
 * transcript, the result and the message as the server received it.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { formatTrace, sendMail } from '../src/index.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url));

const MESSAGE = `From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: Hello from smtpmail for Node

Hi Bob,

This message went through STARTTLS to a server on 127.0.0.1.
.A line starting with a dot travels dot-stuffed and arrives intact.
`;

let stored: Buffer | undefined;
const server = new SMTPServer({
  logger: false,
  authOptional: true,
  banner: 'demo server',
  key: fixture('server-key.pem'),
  cert: fixture('server.pem'),
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      stored = Buffer.concat(chunks);
      callback(null);
    });
  },
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.server.address() as AddressInfo;
// However the demo ends, the server stops by itself.
const stopper = setTimeout(() => server.close(), 30_000);

try {
  console.log('--- transcript');
  const result = await sendMail(MESSAGE, {
    server: 'localhost',
    port,
    streamType: 'starttls',
    tls: { ca: fixture('ca.pem') },
    envelopeFrom: 'alice@example.org',
    recipients: ['bob@example.net'],
    onTrace: (event) => console.log(formatTrace(event)),
  });
  console.log('\n--- result');
  console.log(JSON.stringify(result, null, 2));
  console.log('\n--- the message as the server received it');
  process.stdout.write(stored?.toString('utf8') ?? '(nothing)\n');
} catch (error) {
  console.error('demo failed:', error);
  process.exitCode = 1;
} finally {
  clearTimeout(stopper);
  server.close();
}
