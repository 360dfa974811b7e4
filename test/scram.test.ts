/**
 * SCRAM (auth/scram.ts) against the RFC examples, with the client nonce injected: RFC 5802 §5 (SCRAM-SHA-1) and
 * RFC 7677 §3 (SCRAM-SHA-256); then the GS2 channel-binding flag, -PLUS with each binding type, the server
 * signature, `e=` errors, the nonce and iteration-count checks, user name escaping and SASLprep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { createMechanism, type MechanismContext, type SaslMechanism } from '../src/auth/sasl.js';
import { clientNonce, MAX_ITERATIONS, MIN_ITERATIONS } from '../src/auth/scram.js';
import { SmtpProtocolError } from '../src/errors.js';

const text = (bytes: Buffer | undefined): string => (bytes ?? Buffer.alloc(0)).toString('utf8');
const bytes = (value: string): Buffer => Buffer.from(value, 'utf8');

function withNonce<T>(nonce: string, run: () => T): T {
  const original = clientNonce.next;
  clientNonce.next = () => nonce;
  try {
    return run();
  } finally {
    clientNonce.next = original;
  }
}

async function rejectsWith(promise: unknown, pattern: RegExp): Promise<void> {
  await assert.rejects(
    async () => await promise,
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.equal(error.code, 'EAUTH');
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test('SCRAM-SHA-1: the RFC 5802 §5 example, byte for byte', async () => {
  const mechanism = withNonce('fyko+d2lbbFgONRv9qkxdawL', () =>
    createMechanism('SCRAM-SHA-1', { user: 'user', secret: 'pencil' }),
  );
  assert.equal(text(mechanism.start()), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
  const final = await mechanism.step(bytes('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
  assert.equal(text(final), 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
  assert.deepEqual(await mechanism.step(bytes('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')), Buffer.alloc(0));
  mechanism.finish();
  assert.equal(mechanism.untrusted, undefined);
});

const RFC7677 = {
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfc7677(context: MechanismContext = {}, user = 'user', secret = 'pencil'): SaslMechanism {
  return withNonce(RFC7677.nonce, () => createMechanism('SCRAM-SHA-256', { user, secret }, context));
}

test('SCRAM-SHA-256: the RFC 7677 §3 example, byte for byte', async () => {
  const mechanism = rfc7677();
  assert.equal(text(mechanism.start()), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  assert.equal(text(await mechanism.step(bytes(RFC7677.serverFirst))), RFC7677.clientFinal);
  assert.deepEqual(await mechanism.step(bytes(RFC7677.serverFinal)), Buffer.alloc(0));
  mechanism.finish();
});

test('SCRAM-SHA-256: a wrong server signature makes the server untrusted', async () => {
  const mechanism = rfc7677();
  mechanism.start();
  await mechanism.step(bytes(RFC7677.serverFirst));
  const wrong = Buffer.from(RFC7677.serverFinal.slice(2), 'base64');
  wrong[0] = (wrong[0] as number) ^ 1;
  await rejectsWith(mechanism.step(bytes(`v=${wrong.toString('base64')}`)), /signature is wrong/);
  assert.match(mechanism.untrusted ?? '', /could not prove that it knows the password/);
});

test('SCRAM-SHA-256: a signature that is not base64, or of the wrong length, is wrong too', async () => {
  for (const final of ['v=***', 'v=AAAA', 'x=1', '']) {
    const mechanism = rfc7677();
    await mechanism.step(bytes(RFC7677.serverFirst));
    await rejectsWith(mechanism.step(bytes(final)), /signature is wrong/);
  }
});

test('SCRAM-SHA-256: 235 without the server signature: finish() refuses the server', async () => {
  const mechanism = rfc7677();
  await mechanism.step(bytes(RFC7677.serverFirst));
  assert.throws(() => mechanism.finish(), /without proving that it knows the password/);
  assert.match(mechanism.untrusted ?? '', /no server signature/);
});

test("SCRAM-SHA-256: the server's e= error is kept, and answered with an empty response", async () => {
  const mechanism = rfc7677();
  await mechanism.step(bytes(RFC7677.serverFirst));
  assert.deepEqual(await mechanism.step(bytes('e=invalid-proof')), Buffer.alloc(0));
  assert.equal(mechanism.serverError, 'server error: invalid-proof');
  assert.equal(mechanism.untrusted, undefined);
});

test('SCRAM-SHA-256: a third challenge is refused', async () => {
  const mechanism = rfc7677();
  await mechanism.step(bytes(RFC7677.serverFirst));
  await mechanism.step(bytes(RFC7677.serverFinal));
  await rejectsWith(mechanism.step(bytes('r=x')), /third/);
});

const badServerFirst: { name: string; message: string; pattern: RegExp }[] = [
  {
    name: 'a nonce that does not extend the client nonce',
    message: 'r=other,s=QSXCR+Q6sek8bf92,i=4096',
    pattern: /nonce/,
  },
  { name: 'the client nonce alone', message: `r=${RFC7677.nonce},s=QSXCR+Q6sek8bf92,i=4096`, pattern: /nonce/ },
  { name: 'a mandatory extension', message: `m=x,r=${RFC7677.nonce}x,s=QSXCR+Q6sek8bf92,i=4096`, pattern: /extension/ },
  { name: 'fields out of order', message: `s=QSXCR+Q6sek8bf92,r=${RFC7677.nonce}x,i=4096`, pattern: /malformed/ },
  { name: 'a salt that is not base64', message: `r=${RFC7677.nonce}x,s=Q*,i=4096`, pattern: /salt/ },
  { name: 'an empty salt', message: `r=${RFC7677.nonce}x,s=,i=4096`, pattern: /salt/ },
  { name: 'an iteration count below 4096', message: `r=${RFC7677.nonce}x,s=QSXCR+Q6sek8bf92,i=4095`, pattern: /4095/ },
  {
    name: 'an iteration count above 1,000,000',
    message: `r=${RFC7677.nonce}x,s=QSXCR+Q6sek8bf92,i=1000001`,
    pattern: /1000001 is outside 4096-1000000/,
  },
  {
    name: 'an iteration count that is no number',
    message: `r=${RFC7677.nonce}x,s=QSXCR+Q6sek8bf92,i=0x1000`,
    pattern: /count/,
  },
  { name: 'not SCRAM at all', message: 'Username:', pattern: /malformed/ },
];

for (const row of badServerFirst) {
  test(`SCRAM-SHA-256 refuses a server-first-message with ${row.name}`, async () => {
    await rejectsWith(rfc7677().step(bytes(row.message)), row.pattern);
  });
}

test('SCRAM: the iteration bounds are 4096 and 1,000,000; both ends are accepted', async () => {
  assert.equal(MIN_ITERATIONS, 4096);
  assert.equal(MAX_ITERATIONS, 1_000_000);
  const final = await rfc7677().step(bytes(`r=${RFC7677.nonce}x,s=QSXCR+Q6sek8bf92,i=${MAX_ITERATIONS}`));
  assert.match(text(final), /,p=/);
});

test('SCRAM: extensions after the iteration count are ignored (RFC 5802 §7)', async () => {
  const mechanism = rfc7677();
  const final = await mechanism.step(bytes(`${RFC7677.serverFirst},x=future`));
  assert.match(text(final), /^c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj\)hNlF\$k0,p=/);
});

// --- channel binding: the GS2 flag and c= ---

const EXPORTER = { type: 'tls-exporter', data: Buffer.alloc(32, 7) } as const;
const END_POINT = { type: 'tls-server-end-point', data: Buffer.alloc(32, 9) } as const;

test("GS2 flag: 'n' without TLS, 'y' on TLS when the server offers no -PLUS, 'n' when it does", () => {
  assert.match(text(rfc7677().start()), /^n,,/);
  assert.match(text(rfc7677({ channelBinding: EXPORTER }).start()), /^y,,/);
  assert.match(text(rfc7677({ channelBinding: EXPORTER, serverBinds: true }).start()), /^n,,/);
});

test("SCRAM-SHA-256 with 'y': c= is base64 of 'y,,' and the proof covers it", async () => {
  const mechanism = rfc7677({ channelBinding: EXPORTER });
  const final = text(await mechanism.step(bytes(RFC7677.serverFirst)));
  assert.match(final, new RegExp(`^c=${Buffer.from('y,,').toString('base64')},`));
  assert.notEqual(final, RFC7677.clientFinal);
});

/** An independent SCRAM-SHA-256 server computation (RFC 5802 §3) for a given client-first and client-final. */
function serverCheck(clientFirst: string, serverFirst: string, clientFinal: string, password: string): string {
  const bare = clientFirst.replace(/^[^,]*,[^,]*,/, '');
  const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
  const proof = Buffer.from(clientFinal.slice(clientFinal.lastIndexOf(',p=') + 3), 'base64');
  const salt = Buffer.from(/,s=([^,]*)/.exec(serverFirst)?.[1] ?? '', 'base64');
  const count = Number(/,i=(\d+)/.exec(serverFirst)?.[1]);
  const salted = pbkdf2Sync(password, salt, count, 32, 'sha256');
  const hmac = (key: Buffer, value: string): Buffer => createHmac('sha256', key).update(value).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ (signature[i] as number)));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey, 'the client proof verifies');
  return `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`;
}

for (const binding of [EXPORTER, END_POINT]) {
  test(`SCRAM-SHA-256-PLUS with ${binding.type}: p= flag, c= carries the binding data, the server verifies`, async () => {
    const mechanism = withNonce(RFC7677.nonce, () =>
      createMechanism('SCRAM-SHA-256-PLUS', { user: 'user', secret: 'pencil' }, { channelBinding: binding }),
    );
    const first = text(mechanism.start());
    assert.equal(first, `p=${binding.type},,n=user,r=${RFC7677.nonce}`);
    const final = text(await mechanism.step(bytes(RFC7677.serverFirst)));
    const cbind = Buffer.concat([bytes(`p=${binding.type},,`), binding.data]).toString('base64');
    assert.ok(final.startsWith(`c=${cbind},r=`), final);
    const verifier = serverCheck(first, RFC7677.serverFirst, final, 'pencil');
    await mechanism.step(bytes(verifier));
    mechanism.finish();
  });
}

test('SCRAM-SHA-256-PLUS without a channel binding is not tried (EAUTH from the constructor)', () => {
  assert.throws(
    () => createMechanism('SCRAM-SHA-256-PLUS', { user: 'user', secret: 'pencil' }),
    (error: unknown) => error instanceof SmtpProtocolError && error.code === 'EAUTH' && /not tried/.test(error.message),
  );
});

// --- names and passwords ---

test("user names: ',' and '=' are escaped as =2C and =3D (RFC 5802 §5.1)", () => {
  assert.equal(text(rfc7677({}, 'a,b=c@example.org').start()), `n,,n=a=2Cb=3Dc@example.org,r=${RFC7677.nonce}`);
});

test('the password is SASLprepped: a non-ASCII space and a soft hyphen give the same proof as the plain password', async () => {
  const plain = text(await rfc7677({}, 'user', 'pen cil').step(bytes(RFC7677.serverFirst)));
  const fancy = text(await rfc7677({}, 'user', 'pen\u00a0c\u00adil').step(bytes(RFC7677.serverFirst)));
  assert.equal(fancy, plain);
  const ligature = text(await rfc7677({}, 'user', '\ufb01sh').step(bytes(RFC7677.serverFirst)));
  assert.equal(ligature, text(await rfc7677({}, 'user', 'fish').step(bytes(RFC7677.serverFirst))), 'NFKC');
});

test('a password SASLprep refuses leaves SCRAM untried, without quoting it', () => {
  for (const secret of ['tab\there', 'bell\u0007', '\u0627a\u0628', '\u{e000}private', '']) {
    assert.throws(
      () => createMechanism('SCRAM-SHA-1', { user: 'user', secret }),
      (error: unknown) => {
        assert.ok(error instanceof SmtpProtocolError);
        assert.equal(error.code, 'EAUTH');
        assert.match(error.message, /^not tried: the password /);
        if (secret !== '') assert.ok(!error.message.includes(secret));
        return true;
      },
    );
  }
});

test('the nonce is fresh for each exchange: 24 random bytes in base64', () => {
  const first = text(createMechanism('SCRAM-SHA-1', { user: 'u', secret: 'p' }).start());
  const second = text(createMechanism('SCRAM-SHA-1', { user: 'u', secret: 'p' }).start());
  const nonce = /,r=(.*)$/.exec(first)?.[1] ?? '';
  assert.equal(Buffer.from(nonce, 'base64').length, 24);
  assert.notEqual(first, second);
});
