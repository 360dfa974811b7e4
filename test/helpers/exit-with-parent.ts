/**
 * Preloaded (`node --import`) into the child processes a test starts: the child exits when its standard input (a
 * pipe from the test) closes, which happens when the test process ends, however it ends (a failed assertion, a
 * timeout, a kill). Standard input is unref'd, so it never keeps a child alive that would exit by itself.
 */
process.stdin.on('end', () => process.exit(1));
process.stdin.on('error', () => process.exit(1));
process.stdin.resume();
process.stdin.unref();
