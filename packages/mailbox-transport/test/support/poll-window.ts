import type { MailboxController, MailboxRemoteEnd } from '@scmi-ts/mailbox-transport';

/**
 * Whether an end arms a new `Atomics.waitAsync` after one exchange on mailbox channel 0 — the
 * agent sends, the remote rings back — with time standing still (`performance.now` mocked): a
 * poll window of 0 ends at the first look, a longer one (or the default) never. So it is true
 * exactly when one of the ends was built with a window of 0. Frees the channel and closes the
 * remote.
 */
export async function sleepsAfterExchange(
  controller: MailboxController,
  remote: MailboxRemoteEnd,
): Promise<boolean> {
  const now = jest.spyOn(performance, 'now').mockReturnValue(1000);
  const waitAsync = jest.spyOn(Atomics, 'waitAsync');
  let rx = 0;
  remote.listen(() => {
    remote.ring();
  });
  const chan = controller.requestChannel(0, {
    knowsTxDone: true,
    rxCallback: () => {
      rx++;
    },
    txDone: () => undefined,
  });
  try {
    await turnsUntil(() => waitAsync.mock.calls.length >= 2); // both listeners asleep
    const armed = waitAsync.mock.calls.length;
    chan.send();
    await turnsUntil(() => rx === 1);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    return waitAsync.mock.calls.length > armed;
  } finally {
    chan.free();
    remote.close();
    now.mockRestore();
    waitAsync.mockRestore();
  }
}

async function turnsUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}
