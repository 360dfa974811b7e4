/**
 * Delivery status notification values (wire/dsn.ts) and their MAIL and RCPT parameters (wire/commands.ts), pure:
 * xtext (RFC 3461 §4) edge cases, the checks of the `dsn` option (ECONFIG for a shape or keyword, EINPUT for text
 * that could not be sent as written), and the REQUIRETLS keyword (RFC 8689 §2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dsnProblem, encodeEnvid, encodeOrcpt, xtext } from '../src/wire/dsn.js';
import { mailFrom, rcptTo } from '../src/wire/commands.js';
import { SmtpProtocolError } from '../src/errors.js';

test('xtext: ! to ~ as themselves except + and =; space, controls and 8-bit octets as +XX in upper case', () => {
  const rows: [string, string][] = [
    ['plain-id.1@x', 'plain-id.1@x'],
    ['a+b=c', 'a+2Bb+3Dc'],
    ['two words', 'two+20words'],
    ['!~', '!~'],
    ['"quoted"(x)<y>', '"quoted"(x)<y>'],
    ['\x7f\x00\t', '+7F+00+09'],
    ['é', '+C3+A9'], // the UTF-8 octets (the option itself refuses non-ASCII: see below)
    ['', ''],
  ];
  for (const [text, encoded] of rows) assert.equal(xtext(text), encoded, JSON.stringify(text));
});

test('MAIL FROM: RET, ENVID (xtext) and REQUIRETLS after SIZE, BODY and SMTPUTF8, in that order', () => {
  assert.equal(
    mailFrom('a@x.org', { ret: 'HDRS', envid: 'QQ314159' }),
    'MAIL FROM:<a@x.org> RET=HDRS ENVID=QQ314159\r\n',
  );
  assert.equal(
    mailFrom('a@x.org', {
      size: 12,
      body: '8BITMIME',
      smtputf8: true,
      ret: 'FULL',
      envid: 'a b+c=d',
      requireTls: true,
    }),
    'MAIL FROM:<a@x.org> SIZE=12 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=a+20b+2Bc+3Dd REQUIRETLS\r\n',
  );
  assert.equal(mailFrom('a@x.org', { requireTls: true }), 'MAIL FROM:<a@x.org> REQUIRETLS\r\n');
  assert.equal(mailFrom('a@x.org', { requireTls: false, ret: undefined }), 'MAIL FROM:<a@x.org>\r\n');
});

test('RCPT TO: NOTIFY and ORCPT=rfc822; with the address as xtext', () => {
  assert.equal(
    rcptTo('b@y.org', { notify: ['SUCCESS', 'FAILURE'], orcpt: 'b+tag=1@y.org' }),
    'RCPT TO:<b@y.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Btag+3D1@y.org\r\n',
  );
  assert.equal(rcptTo('b@y.org', { notify: 'NEVER' }), 'RCPT TO:<b@y.org> NOTIFY=NEVER\r\n');
  assert.equal(rcptTo('b@y.org', { notify: ['NEVER'] }), 'RCPT TO:<b@y.org> NOTIFY=NEVER\r\n');
  assert.equal(rcptTo('b@y.org', { notify: ['DELAY'] }), 'RCPT TO:<b@y.org> NOTIFY=DELAY\r\n');
  assert.equal(rcptTo('b@y.org', { orcpt: '"J Doe"@y.org' }), 'RCPT TO:<b@y.org> ORCPT=rfc822;"J+20Doe"@y.org\r\n');
  assert.equal(rcptTo('b@y.org', {}), 'RCPT TO:<b@y.org>\r\n');
});

test('the dsn option: accepted shapes', () => {
  for (const dsn of [
    { ret: 'FULL' },
    { ret: 'HDRS', envid: 'x' },
    { notify: 'NEVER' },
    { notify: ['NEVER'] },
    { notify: ['SUCCESS', 'FAILURE', 'DELAY'] },
    { orcpt: 'b@y.org' },
    { envid: 'x'.repeat(100) },
    { envid: '=+'.repeat(16) + 'ab' }, // 98 characters once encoded
    { ret: 'HDRS', orcpt: 'b@y.org', notify: ['FAILURE'], envid: 'id', extra: undefined },
  ]) {
    assert.equal(dsnProblem(dsn), undefined, JSON.stringify(dsn));
  }
});

test('the dsn option: a wrong shape or keyword is what ECONFIG will name', () => {
  const rows: [unknown, RegExp][] = [
    ['FULL', /an object with ret, envid, notify, orcpt/],
    [{}, /at least one/],
    [{ ret: 'hdrs' }, /ret is 'FULL' or 'HDRS'/],
    [{ ret: 'NONE' }, /ret is 'FULL' or 'HDRS'/],
    [{ notify: ['NEVER', 'SUCCESS'] }, /NEVER cannot be combined with others: RFC 3461 §4\.1/],
    [{ notify: 'SUCCESS' }, /notify is 'NEVER', or an array of 'SUCCESS', 'FAILURE', 'DELAY'/],
    [{ notify: [] }, /notify is/],
    [{ notify: ['SUCCESS', 'SUCCESS'] }, /each once/],
    [{ notify: ['success'] }, /notify is/],
    [{ envid: '' }, /envid is a non-empty string/],
    [{ envid: 42 }, /envid is a non-empty string/],
    [{ orcpt: '<b@y.org>' }, /a bare address, without < and >/],
    [{ orcpt: ['b@y.org'] }, /orcpt is a non-empty string/],
    [{ notifiy: 'NEVER' }, /not "notifiy"/],
  ];
  for (const [dsn, expected] of rows) assert.match(dsnProblem(dsn) ?? '', expected, JSON.stringify(dsn));
});

test('ENVID over 100 characters once encoded, ORCPT parameter over 500: ECONFIG', () => {
  assert.throws(
    () => encodeEnvid('x'.repeat(101)),
    (error: unknown) =>
      error instanceof SmtpProtocolError &&
      error.code === 'ECONFIG' &&
      /envid is 101 characters once xtext-encoded; RFC 3461 §4\.4 allows 100/.test(error.message),
  );
  assert.throws(() => encodeEnvid('+'.repeat(34)), /102 characters/);
  assert.equal(encodeOrcpt(`${'x'.repeat(480)}@y.org`).length, 'rfc822;'.length + 486);
  assert.throws(
    () => encodeOrcpt(`${'+'.repeat(170)}@y.org`),
    (error: unknown) =>
      error instanceof SmtpProtocolError && error.code === 'ECONFIG' && /RFC 3461 §4\.2/.test(error.message),
  );
});

test('CR, LF, NUL, other controls and non-ASCII in envid or orcpt: EINPUT, the text never echoed', () => {
  const bad = ['id\r\nRSET', 'id\n', 'id\0', 'tab\there', 'caf\u00e9', 'j\u00fcrgen@y.org', '\x1b[2J'];
  for (const text of bad) {
    for (const dsn of [{ envid: text }, { orcpt: text }]) {
      assert.throws(
        () => dsnProblem(dsn),
        (error: unknown) =>
          error instanceof SmtpProtocolError &&
          error.code === 'EINPUT' &&
          /the dsn (envid|orcpt) (contains CR, LF or NUL|must be printable US-ASCII)/.test(error.message) &&
          !error.message.includes(text),
        JSON.stringify(dsn),
      );
    }
  }
  // The encoders check too: a command is never built from such text.
  assert.throws(() => mailFrom('a@x.org', { envid: 'a\r\nRCPT TO:<evil@x.org>' }), /CR, LF or NUL/);
  assert.throws(() => rcptTo('b@y.org', { orcpt: 'b@y.org\r\nDATA' }), /CR, LF or NUL/);
  assert.throws(() => rcptTo('b@y.org', { notify: ['SUCCESS', 'NEVER'] as never }), /NOTIFY parameter/);
  assert.throws(() => mailFrom('a@x.org', { ret: 'hdrs' as never }), /RET parameter must be FULL or HDRS/);
});
