/**
 * Hostile input (issue #15 items 1-3): a bare CR or LF inside a header block
 * whose lines end otherwise is header injection and is refused before
 * anything is sent (EINPUT naming the field and line); a message whose lines
 * all end in CR alone is read with CR as its line end; line breaks and NUL
 * never reach a SASL exchange; addresses that are not valid UTF-8 are
 * refused, never decoded to U+FFFD and sent to another mailbox.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { sendMail, SmtpProtocolError, type SendOptions } from '../src/index.js';
import { createMechanism, MECHANISMS } from '../src/auth/sasl.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { withRealServer } from './helpers/real-server.js';
import { CLI, withHome } from './helpers/run-cli.js';

/** A listener that counts connections: a refused message must not reach it. */
async function withCountingServer(run: (port: number, connections: () => number) => Promise<void>): Promise<void> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as net.AddressInfo).port, () => count);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  await assertNothingLeftOpen();
}

const EVIL = 'RCPT TO:<evil@attacker.test>';

const INJECTIONS: readonly { name: string; message: string; field: string; line: number }[] = [
  {
    name: 'bare CR in To (CRLF message)',
    message: `From: a@example.org\r\nTo: bob@example.net\r${EVIL}\r\n\r\nhi\r\n`,
    field: 'To',
    line: 2,
  },
  {
    name: 'bare CR in Cc',
    message: `From: a@example.org\r\nTo: x@example.net\r\nCc: bob@example.net\r${EVIL}\r\n\r\nhi\r\n`,
    field: 'Cc',
    line: 3,
  },
  {
    name: 'bare CR in Bcc',
    message: `From: a@example.org\r\nBcc: bob@example.net\r${EVIL}\r\n\r\nhi\r\n`,
    field: 'Bcc',
    line: 2,
  },
  {
    name: 'bare CR in Resent-To',
    message: `From: a@example.org\r\nResent-To: bob@example.net\r${EVIL}\r\n\r\nhi\r\n`,
    field: 'Resent-To',
    line: 2,
  },
  {
    name: 'bare CR inside a comment',
    message: `From: a@example.org\r\nTo: bob@example.net (a\r${EVIL})\r\n\r\nhi\r\n`,
    field: 'To',
    line: 2,
  },
  {
    name: 'bare CR in From',
    message: `From: a@example.org\rMAIL FROM:<evil@attacker.test>\r\nTo: bob@example.net\r\n\r\nhi\r\n`,
    field: 'From',
    line: 1,
  },
  {
    name: 'bare CR in an LF message',
    message: `From: a@example.org\nTo: bob@example.net\r${EVIL}\n\nhi\n`,
    field: 'To',
    line: 2,
  },
  {
    name: 'CRLF line in an LF message',
    message: `From: a@example.org\nTo: bob@example.net\r\nSubject: x\n\nhi\n`,
    field: 'To',
    line: 2,
  },
  {
    name: 'bare LF in a CRLF message',
    message: `From: a@example.org\r\nTo: bob@example.net\nBcc: evil@attacker.test\r\n\r\nhi\r\n`,
    field: 'To',
    line: 2,
  },
  {
    name: 'bare LF in a continuation line',
    message: `From: a@example.org\r\nTo: bob@example.net,\r\n x@example.net\nBcc: evil@attacker.test\r\n\r\nhi\r\n`,
    field: 'To',
    line: 3,
  },
  // An LF before the header block ends: not a CR-ended message, so the CR that ends line 1 is the lone one.
  {
    name: 'LF in a CR message',
    message: `From: a@example.org\rTo: bob@example.net\nBcc: evil@attacker.test\r\rhi\r`,
    field: 'From',
    line: 1,
  },
];

test('a lone CR or LF in a header block that ends its lines otherwise: EINPUT naming field and line, no connection', async () => {
  await withCountingServer(async (port, connections) => {
    for (const row of INJECTIONS) {
      for (const input of [row.message, Buffer.from(row.message), streamOf(row.message)]) {
        await assert.rejects(
          sendMail(input, { server: '127.0.0.1', port, authSources: [] }),
          (error: SmtpProtocolError) => {
            assert.equal(error.code, 'EINPUT', row.name);
            assert.match(
              error.message,
              new RegExp(`the ${row.field} field \\(header line ${row.line}\\) contains a lone (CR|LF)`),
              `${row.name}: ${error.message}`,
            );
            return true;
          },
        );
      }
    }
    assert.equal(connections(), 0);
  });
});

async function* streamOf(text: string): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += 5) yield bytes.subarray(at, at + 5);
}

test('a message whose lines all end in CR alone is read with CR line ends: recipients, headers before the body, CRLF on the wire', async () => {
  await withRealServer({ disabledCommands: ['STARTTLS'] }, async (server) => {
    const message =
      'From: a@example.org\rTo: bob@example.net, carol@example.net\rSubject: old Mac\r\rline one\rline two\r';
    const options: SendOptions = {
      server: '127.0.0.1',
      port: server.port,
      authSources: [],
      timeouts: SHORT_TIMEOUTS,
      retries: 1,
    };
    for (const input of [message, streamOf(message)]) await sendMail(input, options);
    assert.equal(server.received.length, 2);
    for (const received of server.received) {
      assert.equal(received.from, 'a@example.org');
      assert.deepEqual(received.to, ['bob@example.net', 'carol@example.net']);
      const text = received.data.toString('utf8');
      assert.match(
        text,
        /^From: a@example\.org\r\nTo: bob@example\.net, carol@example\.net\r\nSubject: old Mac\r\nDate: [^\r\n]+\r\nMessage-ID: <[^>]+>\r\n\r\nline one\r\nline two\r\n$/,
      );
    }
  });
});

test('mixed line ends in the body stay allowed and go out as CRLF', async () => {
  await withRealServer({ disabledCommands: ['STARTTLS'] }, async (server) => {
    await sendMail('From: a@example.org\r\nTo: b@example.net\r\n\r\none\rtwo\nthree\r\n', {
      server: '127.0.0.1',
      port: server.port,
      authSources: [],
      addMissingHeaders: false,
    });
    assert.equal(
      server.received[0]?.data.toString('utf8'),
      'From: a@example.org\r\nTo: b@example.net\r\n\r\none\r\ntwo\r\nthree\r\n',
    );
  });
});

test('a user name or password with CR, LF or NUL is refused for every mechanism, naming the field, never its value', async () => {
  for (const mechanism of MECHANISMS) {
    for (const bad of ['alice\r\nRSET\r\nQUIT', 'alice\nx', 'al\0ice', 'alice\r']) {
      assert.throws(
        () => createMechanism(mechanism, { user: bad, secret: 'pw' }),
        (error: SmtpProtocolError) => {
          assert.equal(error.code, 'ECONFIG');
          assert.match(error.message, new RegExp(`^the ${mechanism} user name contains a (CR|LF|NUL) character$`));
          return true;
        },
      );
      assert.throws(
        () => createMechanism(mechanism, { user: 'alice', secret: bad }),
        (error: SmtpProtocolError) => error.code === 'ECONFIG' && !error.message.includes('alice'),
      );
    }
  }
  await withCountingServer(async (port, connections) => {
    await assert.rejects(
      sendMail('From: a@x.org\r\nTo: b@y.org\r\n\r\nx\r\n', {
        server: '127.0.0.1',
        port,
        user: 'alice\r\nRSET',
        password: 'pw',
        authSources: [],
      }),
      {
        code: 'ECONFIG',
        message: /invalid option user/,
      },
    );
    assert.equal(connections(), 0);
  });
});

test('an address field that is not valid UTF-8 is refused (EINPUT), never sent to U+FFFD', async () => {
  await withCountingServer(async (port, connections) => {
    const message = Buffer.concat([
      Buffer.from('From: a@example.org\r\nTo: b'),
      Buffer.from([0xff]),
      Buffer.from('@example.net\r\n\r\nhi\r\n'),
    ]);
    await assert.rejects(sendMail(message, { server: '127.0.0.1', port, authSources: [] }), {
      code: 'EINPUT',
      message: /the To field is not valid UTF-8/,
    });
    await assert.rejects(
      sendMail('From: a@example.org\r\n\r\nhi\r\n', {
        server: '127.0.0.1',
        port,
        authSources: [],
        recipients: ['b\uD800@example.net'],
      }),
      {
        code: 'EINPUT',
        message: /not valid UTF-8/,
      },
    );
    assert.equal(connections(), 0);
  });
});

test('a command-line recipient that is not valid UTF-8: exit 65, nothing sent', async () => {
  await withCountingServer(async (port, connections) => {
    await withHome(async (_home, env) => {
      const script =
        `printf 'From: a@example.org\\n\\nx\\n' | exec "$0" "$1" --server 127.0.0.1 --port ${port} ` +
        `"$(printf 'b\\377@example.net')"`;
      const code = await new Promise<number | null>((resolve) => {
        const child = execFile('sh', ['-c', script, process.execPath, CLI], { env }, () => {});
        child.on('close', resolve);
      });
      assert.equal(code, 65);
    });
    assert.equal(connections(), 0);
  });
});
