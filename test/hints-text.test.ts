/**
 * The hint builders for conditions a loopback test cannot produce for real
 * (port 25 is privileged; greylisting and size limits are server policy),
 * checked for what they must name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comeBackLater, connectFailed, sizeExceeded, smtputf8Missing } from '../src/hints.js';
import { waitsForMinutes } from '../src/client/retry.js';
import type { Reply } from '../src/wire/reply.js';

const reply = (code: number, enhancedCode: string | undefined, text: string): Reply => ({
  code,
  enhancedCode,
  lines: [text],
});

test('port 25 refused or silent: the submission ports with their stream types', () => {
  for (const timedOut of [false, true]) {
    const hint = connectFailed('smtp.example.org', 25, timedOut);
    assert.match(hint, /port 25, which many providers and networks block/);
    assert.match(hint, /port 587 with streamType 'starttls', or port 465 with streamType 'ssl'/);
  }
  assert.match(connectFailed('smtp.example.org', 2525, false), /check the server name and the port/);
});

test('greylisting (450/451 saying so, or 4.7.1), other 4.7.x and 452 wait for minutes, with a hint each; other 4xx do not', () => {
  const greylisting = [
    reply(451, '4.7.1', 'Please try again later'),
    reply(450, undefined, 'Greylisted, see https://postgrey.schweikert.ch/'),
  ];
  for (const r of greylisting) {
    assert.equal(waitsForMinutes(r), true);
    assert.match(comeBackLater(r), /greylisting.*minutes later: queue the message/);
  }
  assert.match(comeBackLater(reply(452, '4.3.1', 'Insufficient system storage')), /short of storage/);
  assert.match(comeBackLater(reply(450, '4.7.0', 'rate limited')), /policy reason \(4\.7\.0\)/);
  assert.equal(waitsForMinutes(reply(452, '4.3.1', 'Insufficient system storage')), true);
  assert.equal(waitsForMinutes(reply(451, '4.3.0', 'local error in processing')), false);
  assert.equal(waitsForMinutes(reply(421, '4.7.0', 'closing')), false);
  assert.equal(waitsForMinutes(reply(550, '5.7.1', 'greylist? no: refused')), false);
});

test('size and SMTPUTF8: what the server takes and what to do', () => {
  assert.match(sizeExceeded(10_485_760), /up to 10485760 octets.*a link/);
  assert.match(smtputf8Missing(), /no SMTPUTF8.*ASCII form of the address/);
});
