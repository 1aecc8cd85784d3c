import { runTransportConformance } from '@scmi-ts/conformance';
import { VirtualClock } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { mailboxNoAckFixture, mailboxUnidirectionalFixture } from './support/fixture.js';

// The whole kit again, on unidirectional mailbox channels: every A2P area with its own reply
// channel (tx_reply), the P2A area with its acknowledgement channel (rx_reply) — Linux's 4- and
// 2-mbox layouts (mailbox_chan_validate).
runTransportConformance(mailboxUnidirectionalFixture);
// And with no acknowledgement channel (3 mboxes): the platform polls CHANNEL_FREE.
runTransportConformance(mailboxNoAckFixture);

describe('mailboxUnidirectionalFixture', () => {
  it('should give the kit wires whose every channel has a reply or acknowledgement mailbox channel of its own', async () => {
    const clock = new VirtualClock({ auto: true });
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const ends = await mailboxUnidirectionalFixture.sameThread({ platform, clock, agentId: 1 });
    expect(ends.wire.layout.channels).toMatchObject([
      { direction: 'a2p', id: 0, mailbox: 0, replyMailbox: 1 },
      { direction: 'p2a', id: 0, mailbox: 2, ackMailbox: 3 },
      { direction: 'a2p', id: 1, mailbox: 4, replyMailbox: 5 },
      { direction: 'a2p', id: 2, mailbox: 6, replyMailbox: 7 },
      { direction: 'a2p', id: 3, mailbox: 8, replyMailbox: 9 },
    ]);
    await ends.close();
    platform.close();
  });
});
