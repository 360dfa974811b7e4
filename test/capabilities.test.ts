/**
 * EHLO capabilities (wire/capabilities.ts) from real servers' replies: keywords, parameters, AUTH, SIZE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Capabilities } from '../src/wire/capabilities.js';
import type { Reply } from '../src/wire/reply.js';

function ehloReply(...lines: string[]): Reply {
  return { code: 250, enhancedCode: undefined, lines };
}

const postfix = ehloReply(
  'mail.example.org',
  'PIPELINING',
  'SIZE 10240000',
  'VRFY',
  'ETRN',
  'STARTTLS',
  'AUTH PLAIN LOGIN',
  'AUTH=PLAIN LOGIN',
  'ENHANCEDSTATUSCODES',
  '8BITMIME',
  'DSN',
  'SMTPUTF8',
  'CHUNKING',
);

const exim = ehloReply(
  'mx.example.net Hello client.example.com [192.0.2.7]',
  'SIZE 52428800',
  '8BITMIME',
  'PIPELINING',
  'X_PIPE_CONNECT',
  'AUTH CRAM-MD5 PLAIN',
  'CHUNKING',
  'STARTTLS',
  'PRDR',
  'HELP',
);

test('Postfix EHLO reply', () => {
  const caps = Capabilities.fromEhlo(postfix);
  assert.deepEqual(caps.keywords, [
    'PIPELINING',
    'SIZE',
    'VRFY',
    'ETRN',
    'STARTTLS',
    'AUTH',
    'ENHANCEDSTATUSCODES',
    '8BITMIME',
    'DSN',
    'SMTPUTF8',
    'CHUNKING',
  ]);
  assert.equal(caps.sizeLimit, 10240000);
  assert.deepEqual(caps.authMechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(caps.has('starttls'), true);
  assert.deepEqual(caps.params('PIPELINING'), []);
  assert.equal(caps.has('mail.example.org'), false);
  assert.equal(caps.has('XCLIENT'), false);
  assert.equal(caps.params('XCLIENT'), undefined);
});

test('Exim EHLO reply: the greeting line is skipped, unknown keywords kept', () => {
  const caps = Capabilities.fromEhlo(exim);
  assert.deepEqual(caps.keywords, [
    'SIZE',
    '8BITMIME',
    'PIPELINING',
    'X_PIPE_CONNECT',
    'AUTH',
    'CHUNKING',
    'STARTTLS',
    'PRDR',
    'HELP',
  ]);
  assert.equal(caps.has('HELLO'), false);
  assert.equal(caps.sizeLimit, 52428800);
  assert.deepEqual(caps.authMechanisms, ['CRAM-MD5', 'PLAIN']);
  assert.deepEqual(caps.params('x_pipe_connect'), []);
});

const authRows: { name: string; lines: string[]; expected: string[] }[] = [
  { name: 'AUTH only', lines: ['AUTH LOGIN PLAIN'], expected: ['LOGIN', 'PLAIN'] },
  { name: 'AUTH= only', lines: ['AUTH=LOGIN PLAIN'], expected: ['LOGIN', 'PLAIN'] },
  {
    name: 'AUTH= first, then AUTH',
    lines: ['AUTH=LOGIN', 'AUTH PLAIN LOGIN XOAUTH2'],
    expected: ['LOGIN', 'PLAIN', 'XOAUTH2'],
  },
  { name: 'lower-case mechanisms upper-cased', lines: ['auth login cram-md5'], expected: ['LOGIN', 'CRAM-MD5'] },
  { name: 'lower-case auth= form', lines: ['auth=login plain'], expected: ['LOGIN', 'PLAIN'] },
  { name: 'AUTH= with nothing after it', lines: ['AUTH= PLAIN'], expected: ['PLAIN'] },
  { name: 'AUTH without mechanisms', lines: ['AUTH'], expected: [] },
  { name: 'no AUTH', lines: ['PIPELINING'], expected: [] },
];

for (const row of authRows) {
  test(`authMechanisms: ${row.name}`, () => {
    const caps = Capabilities.fromEhlo(ehloReply('host', ...row.lines));
    assert.deepEqual(caps.authMechanisms, row.expected);
    assert.equal(caps.has('AUTH'), row.name !== 'no AUTH');
  });
}

test('AUTH and AUTH= give one AUTH keyword', () => {
  const caps = Capabilities.fromEhlo(ehloReply('host', 'AUTH=LOGIN', 'SIZE 1', 'AUTH PLAIN'));
  assert.deepEqual(caps.keywords, ['AUTH', 'SIZE']);
  assert.deepEqual(caps.params('AUTH'), ['LOGIN', 'PLAIN']);
});

test('lower-case keywords are upper-cased, params keep their case', () => {
  const caps = Capabilities.fromEhlo(ehloReply('host', 'pipelining', 'xclient Name Addr', 'Size 1000'));
  assert.deepEqual(caps.keywords, ['PIPELINING', 'XCLIENT', 'SIZE']);
  assert.equal(caps.has('Pipelining'), true);
  assert.deepEqual(caps.params('XCLIENT'), ['Name', 'Addr']);
  assert.equal(caps.sizeLimit, 1000);
});

test('empty lines and extra spaces are ignored', () => {
  const caps = Capabilities.fromEhlo(ehloReply('host', '', '   ', '  DSN  ', 'XUSR\t', 'SIZE   2048 '));
  assert.deepEqual(caps.keywords, ['DSN', 'XUSR', 'SIZE']);
  assert.deepEqual(caps.params('SIZE'), ['2048']);
  assert.equal(caps.sizeLimit, 2048);
});

test('a repeated keyword keeps its first parameters', () => {
  const caps = Capabilities.fromEhlo(ehloReply('host', 'SIZE 100', 'SIZE 200'));
  assert.deepEqual(caps.keywords, ['SIZE']);
  assert.equal(caps.sizeLimit, 100);
});

const sizeRows: { line: string; expected: number | undefined }[] = [
  { line: 'SIZE 35882577', expected: 35882577 },
  { line: 'SIZE', expected: undefined },
  { line: 'SIZE 0', expected: undefined },
  { line: 'SIZE -5', expected: undefined },
  { line: 'SIZE 1e6', expected: undefined },
  { line: 'SIZE 12abc', expected: undefined },
  { line: 'SIZE 99999999999999999999', expected: undefined },
  { line: 'PIPELINING', expected: undefined },
];

for (const row of sizeRows) {
  test(`sizeLimit of '${row.line}' is ${String(row.expected)}`, () => {
    assert.equal(Capabilities.fromEhlo(ehloReply('host', row.line)).sizeLimit, row.expected);
  });
}

test('the first line is never a capability, even when it looks like one', () => {
  const caps = Capabilities.fromEhlo(ehloReply('STARTTLS'));
  assert.deepEqual(caps.keywords, []);
  assert.equal(caps.has('STARTTLS'), false);
});

test('params returns a copy that cannot change the capabilities', () => {
  const caps = Capabilities.fromEhlo(ehloReply('host', 'AUTH PLAIN'));
  const params = caps.params('AUTH') as string[];
  params.push('EVIL');
  (caps.authMechanisms as string[]).push('EVIL');
  assert.deepEqual(caps.params('AUTH'), ['PLAIN']);
  assert.deepEqual(caps.authMechanisms, ['PLAIN']);
});

test('none(): no extensions after HELO', () => {
  const caps = Capabilities.none();
  assert.deepEqual(caps.keywords, []);
  assert.equal(caps.has('PIPELINING'), false);
  assert.equal(caps.params('SIZE'), undefined);
  assert.equal(caps.sizeLimit, undefined);
  assert.deepEqual(caps.authMechanisms, []);
});
