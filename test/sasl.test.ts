/**
 * SASL mechanisms (auth/sasl.ts) against the RFC vectors and an independent HMAC: CRAM-MD5, PLAIN,
 * LOGIN, XOAUTH2, OAUTHBEARER, names and selection, and errors that never echo a secret (SCRAM: scram.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  DEFAULT_MECHANISMS,
  MECHANISMS,
  createMechanism,
  decodeBase64,
  encodeBase64,
  selectMechanisms,
  sendsSecretInClear,
  type MechanismName,
  type SaslMechanism,
} from '../src/auth/sasl.js';
import { SmtpProtocolError, type SmtpErrorCode } from '../src/errors.js';

function isError(code: SmtpErrorCode, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** `step` of a mechanism that answers at once (all but SCRAM, whose PBKDF2 runs off the event loop). */
function stepSync(mechanism: SaslMechanism, challenge: Buffer): Buffer {
  const response = mechanism.step(challenge);
  assert.ok(Buffer.isBuffer(response), 'answered at once');
  return response;
}

/** RFC 2104 HMAC-MD5 built from MD5 alone, independent of createHmac. */
function referenceHmacMd5(key: Buffer, message: Buffer): string {
  const md5 = (...parts: Buffer[]): Buffer => createHash('md5').update(Buffer.concat(parts)).digest();
  const block = Buffer.alloc(64);
  (key.length > 64 ? md5(key) : key).copy(block);
  const ipad = Buffer.from(block.map((byte) => byte ^ 0x36));
  const opad = Buffer.from(block.map((byte) => byte ^ 0x5c));
  return md5(opad, md5(ipad, message)).toString('hex');
}

/** The same construction, but with the key wrongly cut to 64 bytes. */
function truncatingHmacMd5(key: Buffer, message: Buffer): string {
  return referenceHmacMd5(key.subarray(0, 64), message);
}

// --- CRAM-MD5 ---

test('CRAM-MD5: the RFC 2195 example', () => {
  const mechanism = createMechanism('CRAM-MD5', { user: 'user', secret: 'tanstaaftanstaaf' });
  assert.equal(mechanism.start(), undefined);
  const response = stepSync(mechanism, bytes('<1896.697170952@postoffice.reston.mci.net>'));
  assert.equal(response.toString('utf8'), 'user b913a602c7eda7a495b4e6e7334d3890');
});

test('CRAM-MD5: the RFC 2195 example in its base64 wire form', () => {
  const mechanism = createMechanism('cram-md5', { user: 'user', secret: 'tanstaaftanstaaf' });
  const challenge = decodeBase64('PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+');
  assert.equal(encodeBase64(stepSync(mechanism, challenge)), 'dXNlciBiOTEzYTYwMmM3ZWRhN2E0OTViNGU2ZTczMzRkMzg5MA==');
});

test('CRAM-MD5: a secret over 64 bytes is hashed first (RFC 2104), not truncated', () => {
  const secret = 'k'.repeat(40) + 'K'.repeat(40);
  const challenge = bytes('<12345.67890@mail.example.org>');
  const expected = referenceHmacMd5(bytes(secret), challenge);
  const response = stepSync(createMechanism('CRAM-MD5', { user: 'alice', secret }), challenge);
  assert.equal(response.toString('utf8'), `alice ${expected}`);
  assert.notEqual(expected, truncatingHmacMd5(bytes(secret), challenge));
});

test('CRAM-MD5: the reference HMAC matches the RFC 2195 vector too', () => {
  const digest = referenceHmacMd5(bytes('tanstaaftanstaaf'), bytes('<1896.697170952@postoffice.reston.mci.net>'));
  assert.equal(digest, 'b913a602c7eda7a495b4e6e7334d3890');
});

test('CRAM-MD5: a non-ASCII secret is keyed as UTF-8', () => {
  const challenge = bytes('<1.2@example.org>');
  const response = stepSync(createMechanism('CRAM-MD5', { user: 'jürgen', secret: 'pässwörd' }), challenge);
  assert.deepEqual(response, bytes(`jürgen ${referenceHmacMd5(bytes('pässwörd'), challenge)}`));
});

test('CRAM-MD5: a second challenge throws EAUTH', () => {
  const mechanism = createMechanism('CRAM-MD5', { user: 'user', secret: 'pass' });
  stepSync(mechanism, bytes('<1@x>'));
  assert.throws(() => stepSync(mechanism, bytes('<2@x>')), isError('EAUTH', /second/));
});

test('CRAM-MD5: an empty challenge throws EAUTH', () => {
  const mechanism = createMechanism('CRAM-MD5', { user: 'user', secret: 'pass' });
  assert.throws(() => stepSync(mechanism, Buffer.alloc(0)), isError('EAUTH', /empty/));
});

// --- PLAIN ---

test('PLAIN: initial response is NUL user NUL secret, empty authzid', () => {
  const mechanism = createMechanism('PLAIN', { user: 'user', secret: 'pass' });
  assert.deepEqual(mechanism.start(), Buffer.from([0, 0x75, 0x73, 0x65, 0x72, 0, 0x70, 0x61, 0x73, 0x73]));
  assert.equal(encodeBase64(mechanism.start() ?? Buffer.alloc(0)), 'AHVzZXIAcGFzcw==');
});

test('PLAIN: non-ASCII user and secret are UTF-8', () => {
  const response = createMechanism('plain', { user: 'jürgen', secret: 'pässwörd' }).start();
  assert.deepEqual(
    response,
    Buffer.concat([
      Buffer.from([0]),
      Buffer.from('6ac3bc7267656e', 'hex'),
      Buffer.from([0]),
      Buffer.from('70c3a4737377c3b67264', 'hex'),
    ]),
  );
  assert.equal(encodeBase64(response ?? Buffer.alloc(0)), 'AGrDvHJnZW4AcMOkc3N3w7ZyZA==');
});

test('PLAIN: a challenge throws EAUTH', () => {
  const mechanism = createMechanism('PLAIN', { user: 'user', secret: 'pass' });
  mechanism.start();
  assert.throws(() => stepSync(mechanism, Buffer.alloc(0)), isError('EAUTH', /PLAIN expects no challenge/));
});

test('PLAIN: a NUL in the credentials is refused without quoting them', () => {
  assert.throws(
    () => createMechanism('PLAIN', { user: 'a\0b', secret: 'pass' }),
    isError('ECONFIG', /^the PLAIN user name contains a NUL character$/),
  );
  assert.throws(
    () => createMechanism('PLAIN', { user: 'user', secret: 'p\0ss' }),
    isError('ECONFIG', /^the PLAIN password contains a NUL character$/),
  );
});

// --- LOGIN ---

const loginPrompts: { name: string; prompts: [string, string] }[] = [
  { name: 'usual prompts', prompts: ['Username:', 'Password:'] },
  { name: 'prompts ending with NUL (aiosmtpd)', prompts: ['Username:\0', 'Password:\0'] },
  { name: 'arbitrary texts', prompts: ['foo', 'bar'] },
  { name: 'prompts in the wrong order', prompts: ['Password:', 'Username:'] },
  { name: 'empty prompts', prompts: ['', ''] },
];

for (const row of loginPrompts) {
  test(`LOGIN answers by position: ${row.name}`, () => {
    const mechanism = createMechanism('LOGIN', { user: 'jürgen', secret: 'pässwörd' });
    assert.equal(mechanism.start(), undefined);
    assert.deepEqual(stepSync(mechanism, bytes(row.prompts[0])), bytes('jürgen'));
    assert.deepEqual(stepSync(mechanism, bytes(row.prompts[1])), bytes('pässwörd'));
  });
}

test('LOGIN: a third challenge throws EAUTH', () => {
  const mechanism = createMechanism('Login', { user: 'user', secret: 'pass' });
  stepSync(mechanism, bytes('Username:'));
  stepSync(mechanism, bytes('Password:'));
  assert.throws(() => stepSync(mechanism, bytes('Password:')), isError('EAUTH', /third/));
});

// --- XOAUTH2 ---

test('XOAUTH2: initial response bytes', () => {
  const mechanism = createMechanism('XOAUTH2', { user: 'someone@example.com', secret: 'ya29.token' });
  assert.deepEqual(mechanism.start(), bytes('user=someone@example.com\x01auth=Bearer ya29.token\x01\x01'));
  assert.equal(mechanism.serverError, undefined);
});

test('XOAUTH2: the JSON error challenge gets an empty response and is summarised', () => {
  const mechanism = createMechanism('xoauth2', { user: 'someone@example.com', secret: 'ya29.token' });
  mechanism.start();
  const challenge = decodeBase64(
    encodeBase64(bytes('{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}')),
  );
  assert.deepEqual(stepSync(mechanism, challenge), Buffer.alloc(0));
  assert.equal(mechanism.serverError, 'status 401, scope https://mail.google.com/');
});

test('XOAUTH2: an error that is not JSON is kept as text, control characters replaced', () => {
  const mechanism = createMechanism('XOAUTH2', { user: 'u', secret: 't' });
  stepSync(mechanism, bytes('token expired\r\n'));
  assert.equal(mechanism.serverError, 'token expired??');
});

test('XOAUTH2: JSON without status or scope is kept as text', () => {
  const mechanism = createMechanism('XOAUTH2', { user: 'u', secret: 't' });
  stepSync(mechanism, bytes('{"error":"invalid"}'));
  assert.equal(mechanism.serverError, '{"error":"invalid"}');
});

test('XOAUTH2: a second challenge throws EAUTH', () => {
  const mechanism = createMechanism('XOAUTH2', { user: 'u', secret: 't' });
  stepSync(mechanism, bytes('{"status":"400"}'));
  assert.equal(mechanism.serverError, 'status 400');
  assert.throws(() => stepSync(mechanism, bytes('{"status":"400"}')), isError('EAUTH', /second/));
});

test('XOAUTH2: a ^A in the credentials is refused', () => {
  assert.throws(
    () => createMechanism('XOAUTH2', { user: 'u\x01', secret: 't' }),
    isError('ECONFIG', /user name contains a \^A/),
  );
  assert.throws(
    () => createMechanism('XOAUTH2', { user: 'u', secret: 't\x01' }),
    isError('ECONFIG', /access token contains a \^A/),
  );
});

// --- OAUTHBEARER ---

test('OAUTHBEARER: the RFC 7628 §3.1 initial response, user as authzid, host and port', () => {
  const mechanism = createMechanism(
    'OAUTHBEARER',
    { user: 'user@example.com', secret: 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==' },
    { host: 'server.example.com', port: 587 },
  );
  assert.deepEqual(
    mechanism.start(),
    bytes(
      'n,a=user@example.com,\x01host=server.example.com\x01port=587\x01' +
        'auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01',
    ),
  );
});

test("OAUTHBEARER: ',' and '=' in the user are escaped; no host and port when not known", () => {
  const mechanism = createMechanism('oauthbearer', { user: 'a,b=c', secret: 't' });
  assert.deepEqual(mechanism.start(), bytes('n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01'));
});

test('OAUTHBEARER: the JSON error challenge is answered with ^A (AQ== on the wire) and summarised', () => {
  const mechanism = createMechanism('OAUTHBEARER', { user: 'u', secret: 't' });
  const json = '{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/x"}';
  const response = stepSync(mechanism, bytes(json));
  assert.equal(encodeBase64(response), 'AQ==');
  assert.equal(mechanism.serverError, 'status invalid_token, scope example_scope');
  assert.throws(() => stepSync(mechanism, bytes(json)), isError('EAUTH', /second/));
});

test('OAUTHBEARER: a ^A in the credentials is refused', () => {
  assert.throws(
    () => createMechanism('OAUTHBEARER', { user: 'u', secret: 't\x01' }),
    isError('ECONFIG', /^the OAUTHBEARER access token contains a \^A character$/),
  );
});

// --- names and selection ---

test('createMechanism: every name gives its mechanism', () => {
  const context = { channelBinding: { type: 'tls-exporter', data: Buffer.alloc(32) } } as const;
  for (const name of MECHANISMS) assert.equal(createMechanism(name, { user: 'u', secret: 's' }, context).name, name);
});

test('createMechanism: an unknown name throws ECONFIG listing the supported ones', () => {
  assert.throws(
    () => createMechanism('DIGEST-MD5', { user: 'u', secret: 's' }),
    isError(
      'ECONFIG',
      new RegExp(
        '^unsupported SASL mechanism "DIGEST-MD5"; supported: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, ' +
          'CRAM-MD5, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER$',
      ),
    ),
  );
});

test('createMechanism: only ASCII letters fold case', () => {
  assert.throws(() => createMechanism('plaın', { user: 'u', secret: 's' }), isError('ECONFIG', /unsupported/));
});

test('sendsSecretInClear', () => {
  const table: Record<MechanismName, boolean> = {
    'SCRAM-SHA-256-PLUS': false,
    'SCRAM-SHA-256': false,
    'SCRAM-SHA-1': false,
    'CRAM-MD5': false,
    PLAIN: true,
    LOGIN: true,
    XOAUTH2: true,
    OAUTHBEARER: true,
  };
  for (const name of MECHANISMS) assert.equal(sendsSecretInClear(name), table[name], name);
});

test('DEFAULT_MECHANISMS is smtpmail-auth-supported with SCRAM first', () => {
  const expected = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN'];
  assert.deepEqual(DEFAULT_MECHANISMS, expected);
});

const selectRows: {
  name: string;
  advertised: string[];
  preference?: string[];
  forced?: string;
  expected: MechanismName[];
}[] = [
  {
    name: 'default order, whatever the server order',
    advertised: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
    expected: ['CRAM-MD5', 'PLAIN', 'LOGIN'],
  },
  { name: 'only LOGIN offered', advertised: ['LOGIN'], expected: ['LOGIN'] },
  { name: 'XOAUTH2 is not in the default list', advertised: ['XOAUTH2', 'PLAIN'], expected: ['PLAIN'] },
  { name: 'OAUTHBEARER is not in the default list', advertised: ['OAUTHBEARER', 'LOGIN'], expected: ['LOGIN'] },
  {
    name: 'SCRAM first by default, strongest first',
    advertised: ['PLAIN', 'SCRAM-SHA-1', 'CRAM-MD5', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'],
    expected: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN'],
  },
  {
    name: 'SCRAM-SHA-1-PLUS is not implemented: ignored',
    advertised: ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'],
    expected: ['SCRAM-SHA-1'],
  },
  { name: 'XOAUTH2 when preferred', advertised: ['PLAIN', 'XOAUTH2'], preference: ['XOAUTH2'], expected: ['XOAUTH2'] },
  {
    name: 'preference order wins',
    advertised: ['CRAM-MD5', 'PLAIN', 'LOGIN'],
    preference: ['login', 'PLAIN'],
    expected: ['LOGIN', 'PLAIN'],
  },
  { name: 'duplicate preferences dropped', advertised: ['PLAIN'], preference: ['PLAIN', 'plain'], expected: ['PLAIN'] },
  {
    name: 'lower-case advertised names',
    advertised: ['plain', 'login', 'cram-md5'],
    expected: ['CRAM-MD5', 'PLAIN', 'LOGIN'],
  },
  { name: 'unknown advertised names ignored', advertised: ['GSSAPI', 'NTLM', 'LOGIN'], expected: ['LOGIN'] },
  { name: 'nothing in common', advertised: ['GSSAPI'], expected: [] },
  { name: 'nothing advertised', advertised: [], expected: [] },
  {
    name: 'forced, case-insensitive',
    advertised: ['CRAM-MD5', 'PLAIN', 'LOGIN'],
    forced: 'plain',
    expected: ['PLAIN'],
  },
  {
    name: 'forced overrides the preference',
    advertised: ['XOAUTH2', 'PLAIN'],
    preference: ['PLAIN'],
    forced: 'XOAUTH2',
    expected: ['XOAUTH2'],
  },
  { name: 'forced but not advertised', advertised: ['PLAIN', 'LOGIN'], forced: 'CRAM-MD5', expected: [] },
];

for (const row of selectRows) {
  test(`selectMechanisms: ${row.name}`, () => {
    assert.deepEqual(selectMechanisms(row.advertised, row.preference, row.forced), row.expected);
  });
}

test('selectMechanisms: an unknown preference name throws ECONFIG', () => {
  assert.throws(() => selectMechanisms(['PLAIN'], ['PLAIN', 'DIGEST-MD5']), isError('ECONFIG', /"DIGEST-MD5"/));
});

test('selectMechanisms: an unknown forced name throws ECONFIG', () => {
  assert.throws(() => selectMechanisms(['PLAIN'], undefined, 'NTLM'), isError('ECONFIG', /"NTLM"/));
});

// --- base64 ---

test('encodeBase64', () => {
  assert.equal(encodeBase64(Buffer.alloc(0)), '');
  assert.equal(encodeBase64(bytes('Username:')), 'VXNlcm5hbWU6');
});

const decodeRows: { input: string; expected: Buffer }[] = [
  { input: 'VXNlcm5hbWU6', expected: bytes('Username:') },
  { input: '  UGFzc3dvcmQ6 \t', expected: bytes('Password:') },
  { input: 'YQ==', expected: bytes('a') },
  { input: 'YWI=', expected: bytes('ab') },
  { input: '', expected: Buffer.alloc(0) },
  { input: '=', expected: Buffer.alloc(0) },
  { input: ' = ', expected: Buffer.alloc(0) },
  { input: 'AP8=', expected: Buffer.from([0x00, 0xff]) },
];

for (const row of decodeRows) {
  test(`decodeBase64 accepts ${JSON.stringify(row.input)}`, () => {
    assert.deepEqual(decodeBase64(row.input), row.expected);
  });
}

const badBase64 = [
  'VXNl*m5hbWU6',
  'VXNl cm5hbWU6',
  'VXNlcm5hbWU',
  'YQ',
  'YQ=',
  'YQ===',
  'Y===',
  '==',
  'YQ==YQ==',
  'VXNl-m5h',
  'VXNl_m5h',
  'ä',
];

for (const input of badBase64) {
  test(`decodeBase64 refuses ${JSON.stringify(input)}`, () => {
    assert.throws(() => decodeBase64(input), isError('EPROTOCOL', /^the server sent a challenge that is not base64$/));
  });
}

// --- secrets stay out of errors ---

test('no error from any mechanism contains the secret or its base64', async () => {
  const secret = 'Zx9-very-secret';
  const forbidden = [secret, encodeBase64(bytes(secret)), encodeBase64(bytes(`\0user\0${secret}`))];
  const errors: unknown[] = [];
  const collect = async (action: () => unknown): Promise<void> => {
    try {
      await action();
      assert.fail('expected an error');
    } catch (error) {
      errors.push(error);
    }
  };
  const context = { channelBinding: { type: 'tls-exporter', data: Buffer.alloc(32) } } as const;
  const fresh = (name: MechanismName): SaslMechanism => createMechanism(name, { user: 'user', secret }, context);
  for (const name of MECHANISMS) {
    const mechanism = fresh(name);
    mechanism.start();
    await collect(async () => {
      for (let round = 0; round < 5; round++) await mechanism.step(bytes(`challenge ${round}`));
    });
  }
  await collect(() => fresh('CRAM-MD5').step(Buffer.alloc(0)));
  await collect(() => createMechanism('PLAIN', { user: 'user', secret: `${secret}\0` }));
  await collect(() => createMechanism('XOAUTH2', { user: 'user', secret: `${secret}\x01` }));
  await collect(() => createMechanism('OAUTHBEARER', { user: 'user', secret: `${secret}\x01` }));
  await collect(() => createMechanism('SCRAM-SHA-256', { user: 'user', secret: `${secret}\u0007` }));
  assert.equal(errors.length, MECHANISMS.length + 5);
  for (const error of errors) {
    assert.ok(error instanceof SmtpProtocolError);
    const text = `${error.message}\n${error.stack ?? ''}\n${String(error)}\n${JSON.stringify(error)}`;
    for (const needle of forbidden) assert.ok(!text.includes(needle), `error leaks the secret: ${error.message}`);
  }
});
