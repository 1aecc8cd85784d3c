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

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
