import { runDevresDemo } from './devres-demo.js';

/** The README's main job (`pnpm demo`). */
async function main(): Promise<void> {
  await runDevresDemo((line) => {
    console.log(line);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
