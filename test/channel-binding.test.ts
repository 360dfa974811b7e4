/**
 * Channel binding for SCRAM -PLUS (auth/channel-binding.ts): which binding a TLS session gets, and the hash
 * tls-server-end-point uses for each certificate signature algorithm (RFC 5929 §4.1), read from DER.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { channelBinding, endPointHash, EXPORTER_LABEL, EXPORTER_LENGTH } from '../src/auth/channel-binding.js';
import { fixture } from './helpers/fake-server.js';

/** A DER element: tag, definite length, content. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : body.length < 0x100
        ? Buffer.from([0x81, body.length])
        : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const part of rest) {
    const groups = [part & 0x7f];
    for (let value = part >> 7; value > 0; value >>= 7) groups.unshift((value & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A certificate-shaped DER: a dummy tbsCertificate (long enough to need a long length), the algorithm, a signature. */
function certificate(algorithm: Buffer): Buffer {
  const tbs = tlv(0x30, tlv(0x04, Buffer.alloc(300, 1)));
  return tlv(0x30, tbs, algorithm, tlv(0x03, Buffer.from([0, 1, 2])));
}

const rows: [string, Buffer, string | undefined][] = [
  ['md5WithRSAEncryption: SHA-256', tlv(0x30, oid('1.2.840.113549.1.1.4'), tlv(0x05)), 'sha256'],
  ['sha1WithRSAEncryption: SHA-256', tlv(0x30, oid('1.2.840.113549.1.1.5'), tlv(0x05)), 'sha256'],
  ['sha256WithRSAEncryption', tlv(0x30, oid('1.2.840.113549.1.1.11'), tlv(0x05)), 'sha256'],
  ['sha384WithRSAEncryption', tlv(0x30, oid('1.2.840.113549.1.1.12'), tlv(0x05)), 'sha384'],
  ['sha512WithRSAEncryption', tlv(0x30, oid('1.2.840.113549.1.1.13'), tlv(0x05)), 'sha512'],
  ['ecdsa-with-SHA1: SHA-256', tlv(0x30, oid('1.2.840.10045.4.1')), 'sha256'],
  ['ecdsa-with-SHA384', tlv(0x30, oid('1.2.840.10045.4.3.3')), 'sha384'],
  ['Ed25519: no binding defined', tlv(0x30, oid('1.3.101.112')), undefined],
  ['RSASSA-PSS without parameters: SHA-1, so SHA-256', tlv(0x30, oid('1.2.840.113549.1.1.10')), 'sha256'],
  [
    'RSASSA-PSS with SHA-384',
    tlv(0x30, oid('1.2.840.113549.1.1.10'), tlv(0x30, tlv(0xa0, tlv(0x30, oid('2.16.840.1.101.3.4.2.2'))))),
    'sha384',
  ],
];

for (const [name, algorithm, expected] of rows) {
  test(`tls-server-end-point hash: ${name}`, () => {
    assert.equal(endPointHash(certificate(algorithm)), expected);
  });
}

test('tls-server-end-point hash: truncated or foreign DER gives none', () => {
  const der = certificate(tlv(0x30, oid('1.2.840.113549.1.1.11')));
  for (const cut of [0, 1, 5, 310, der.length - 4])
    assert.equal(endPointHash(der.subarray(0, cut)), undefined, `${cut}`);
  assert.equal(endPointHash(Buffer.from('not DER')), undefined);
});

test("the fixture certificate (ecdsa-with-SHA256): SHA-256 of its DER, as Node's fingerprint256", () => {
  const der = new X509Certificate(fixture('server.pem')).raw;
  assert.equal(endPointHash(der), 'sha256');
  const binding = channelBinding({
    protocol: 'TLSv1.2',
    exportKeyingMaterial: () => assert.fail('not on TLS 1.2'),
    certificate: () => der,
  });
  assert.equal(binding?.type, 'tls-server-end-point');
  const fingerprint = new X509Certificate(fixture('server.pem')).fingerprint256.replaceAll(':', '').toLowerCase();
  assert.equal(binding?.data.toString('hex'), fingerprint);
  assert.deepEqual(binding?.data, createHash('sha256').update(der).digest());
});

test('TLS 1.3: tls-exporter, 32 bytes with the RFC 9266 label', () => {
  const calls: [number, string][] = [];
  const binding = channelBinding({
    protocol: 'TLSv1.3',
    exportKeyingMaterial: (length, label) => {
      calls.push([length, label]);
      return Buffer.alloc(length, 3);
    },
    certificate: () => assert.fail('not on TLS 1.3'),
  });
  assert.deepEqual(calls, [[32, 'EXPORTER-Channel-Binding']]);
  assert.equal(EXPORTER_LABEL, 'EXPORTER-Channel-Binding');
  assert.equal(EXPORTER_LENGTH, 32);
  assert.deepEqual(binding, { type: 'tls-exporter', data: Buffer.alloc(32, 3) });
});

test('no TLS, no certificate, or a socket that throws: no binding', () => {
  assert.equal(channelBinding(undefined), undefined);
  const none = { protocol: 'TLSv1.2', exportKeyingMaterial: () => Buffer.alloc(0), certificate: () => undefined };
  assert.equal(channelBinding(none), undefined);
  const gone = {
    protocol: 'TLSv1.3',
    exportKeyingMaterial: (): Buffer => {
      throw new Error('socket closed');
    },
    certificate: () => undefined,
  };
  assert.equal(channelBinding(gone), undefined);
});
