#!/usr/bin/env node
/** The `smtpmail` executable (package.json `bin`): see cli/main.ts. */
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdinFd: 0,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
