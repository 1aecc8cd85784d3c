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
 * `… | head`: when the reader of standard output goes away, stop quietly with the exit code so far,
 * as a Unix filter does, instead of an unhandled EPIPE error with its stack.
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit();
});

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
