import { runMailboxDemo } from './mailbox-demo.js';

/** The README's main job (`pnpm demo`). */
async function main(): Promise<void> {
  await runMailboxDemo((line) => {
    console.log(line);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
