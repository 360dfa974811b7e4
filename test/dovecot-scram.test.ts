/**
 * SCRAM against a real server: Dovecot's submission service (Debian 12's dovecot-submissiond, Dovecot 2.3.19), started
 * by the test in a temporary directory (helpers/dovecot.ts), relaying to npm smtp-server in process so that the
 * message is seen arriving. SCRAM-SHA-256 (chosen first by default) and SCRAM-SHA-1 over STARTTLS, against a password
 * stored in clear ({PLAIN}) and one stored only as SCRAM keys ({SCRAM-SHA-256}: the server never had the password);
 * a wrong password; a password SASLprep changes, which Dovecot does not prepare. Dovecot 2.3 has no channel binding
 * (no -PLUS mechanism; scram-plus.test.ts covers -PLUS). Skipped, with the reason, when Dovecot is not installed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { sendMail, SmtpProtocolError, type SendOptions } from '../src/index.js';
import { formatTrace } from '../src/wire/trace.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { dovecotMissing, startDovecot, type TestDovecot } from './helpers/dovecot-submission.js';
import { fixture } from './helpers/fake-server.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';

const missing = dovecotMissing();
if (missing !== undefined) console.log(`# dovecot-scram: ${missing}`);

const ALICE = 'pässwörd'; // non-ASCII, NFKC-stable: SASLprep leaves it as Dovecot (which does not prepare) has it
const BOB = 'only the keys are stored';
const CAROL = 'no\u00a0break'; // SASLprep maps the no-break space to a space; Dovecot does not prepare

/** Dovecot's {SCRAM-SHA-256} scheme: iterations, salt, StoredKey, ServerKey (RFC 5802 §3), computed here. */
function scramSha256Entry(password: string): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
  const hmac = (text: string): Buffer => createHmac('sha256', salted).update(text).digest();
  const storedKey = createHash('sha256').update(hmac('Client Key')).digest();
  const keys = [salt, storedKey, hmac('Server Key')].map((bytes) => bytes.toString('base64'));
  return `{SCRAM-SHA-256}4096,${keys.join(',')}`;
}

let relay: RealServer;
let dovecot: TestDovecot;

before(async () => {
  if (missing !== undefined) return;
  relay = await startRealServer();
  dovecot = await startDovecot({
    users: [`alice:{PLAIN}${ALICE}`, `bob:${scramSha256Entry(BOB)}`, `carol:{PLAIN}${CAROL}`],
    relayPort: relay.port,
  });
});

after(async () => {
  if (missing !== undefined) return;
  await dovecot?.stop();
  await relay?.close();
});

function send(extra: Partial<SendOptions>, trace: string[] = []) {
  return sendMail(`Subject: via dovecot\n\nsent with ${String(extra.user)}\n`, {
    server: '127.0.0.1',
    port: dovecot.port,
    streamType: 'starttls',
    tls: { ca: fixture('ca.pem') },
    envelopeFrom: 'alice@example.org',
    recipients: ['bob@example.net'],
    timeouts: { ...SHORT_TIMEOUTS, command: 10_000, dataEnd: 10_000 },
    authSources: [],
    retries: 1,
    onTrace: (event) => trace.push(formatTrace(event)),
    ...extra,
  });
}

test(
  'Dovecot offers SCRAM-SHA-256 and SCRAM-SHA-1 (no -PLUS); the default order picks SCRAM-SHA-256',
  { skip: missing },
  async () => {
    const trace: string[] = [];
    const before = relay.received.length;
    const result = await send({ user: 'alice', password: ALICE }, trace).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${trace.join('\n')}\n${await dovecot.log()}`);
    });
    assert.equal(result.authMechanism, 'SCRAM-SHA-256');
    assert.equal(result.secure, true);
    const ehlo = trace.filter((line) => /^S: 250[- ]AUTH /.test(line));
    assert.deepEqual(ehlo.at(-1), 'S: 250-AUTH PLAIN SCRAM-SHA-1 SCRAM-SHA-256');
    assert.equal(relay.received.length, before + 1, 'Dovecot relayed the message');
    assert.match(relay.received.at(-1)?.data.toString('utf8') ?? '', /sent with alice/);
    assert.ok(!trace.join('\n').includes(ALICE));
  },
);

test('SCRAM-SHA-1, forced', { skip: missing }, async () => {
  const result = await send({ user: 'alice', password: ALICE, authMechanism: 'SCRAM-SHA-1' });
  assert.equal(result.authMechanism, 'SCRAM-SHA-1');
});

test('a password Dovecot holds only as SCRAM-SHA-256 keys', { skip: missing }, async () => {
  const result = await send({ user: 'bob', password: BOB });
  assert.equal(result.authMechanism, 'SCRAM-SHA-256');
});

test(
  'a password SASLprep changes: Dovecot (which does not prepare) refuses SCRAM; PLAIN then works',
  { skip: missing },
  async () => {
    const result = await send({ user: 'carol', password: CAROL });
    assert.equal(result.authMechanism, 'PLAIN');
  },
);

test(
  'a wrong password: 535 for each SCRAM mechanism and PLAIN, one EAUTH listing them',
  { skip: missing },
  async () => {
    const before = relay.received.length;
    const error = await send({ user: 'alice', password: 'wrong' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof SmtpProtocolError, String(error));
    assert.equal(error.code, 'EAUTH');
    assert.match(error.detail, /^Authentication failed: SCRAM-SHA-256: 535 .*; SCRAM-SHA-1: 535 .*; PLAIN: 535 /);
    assert.equal(relay.received.length, before, 'nothing relayed');
  },
);

test(
  'SCRAM-SHA-256-PLUS forced: Dovecot 2.3 does not offer it, EAUTH before anything is sent',
  { skip: missing },
  async () => {
    const error = await send({ user: 'alice', password: ALICE, authMechanism: 'SCRAM-SHA-256-PLUS' }).catch(
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'EAUTH');
    assert.match(
      error.message,
      /no usable authentication mechanism: the server offers PLAIN SCRAM-SHA-1 SCRAM-SHA-256/,
    );
  },
);
