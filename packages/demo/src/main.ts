import { runDemo } from './demo-cli.js';

/** The README's main job (`pnpm demo [--transport <mailbox|virtio|optee>]`). */
async function main(): Promise<void> {
  process.exitCode = await runDemo(
    process.argv.slice(2),
    (line) => {
      console.log(line);
    },
    {
      printError: (line) => {
        console.error(line);
      },
    },
  );
}

/**
 * `… | head`: when the reader of standard output goes away, stop quietly instead of an unhandled
 * EPIPE error with its stack — with 141 (128 + SIGPIPE), as a Unix filter killed by the signal
 * exits, or with a failure already recorded: the run did not finish, so it never reads as a pass.
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  const failed = typeof process.exitCode === 'number' && process.exitCode !== 0;
  process.exit(failed ? process.exitCode : 141);
});

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
