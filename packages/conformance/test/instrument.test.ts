import { TransportInstrument } from '@scmi-ts/conformance';
import {
  ChannelCounters,
  VirtualClock,
  type ChannelSetup,
  type Transport,
  type TransportChannel,
} from '@scmi-ts/core';

describe(TransportInstrument, () => {
  it("should keep every optional hook of the transport, bound to it (maxMsgFor sizes the agent's transfer pool)", () => {
    const transport = {
      descriptor: { name: 'fake' },
      setupChannel: () => Promise.reject(new Error('unused')),
      calls: [] as string[],
      validateConfig(section: unknown) {
        this.calls.push('validateConfig');
        return section;
      },
      maxMsgFor() {
        this.calls.push('maxMsgFor');
        return 7;
      },
      validateChannelConfig(section: unknown) {
        this.calls.push('validateChannelConfig');
        return section;
      },
      setupDevice() {
        this.calls.push('setupDevice');
        return Promise.resolve();
      },
    };
    const wrapped = new TransportInstrument(new VirtualClock()).wrap(
      transport as unknown as Transport,
    );
    expect(wrapped.validateConfig?.({}, 'transportConfig')).toEqual({});
    expect(wrapped.maxMsgFor?.({})).toBe(7);
    expect(wrapped.validateChannelConfig?.({}, 'channel')).toEqual({});
    void wrapped.setupDevice?.({} as never);
    expect(transport.calls).toEqual([
      'validateConfig',
      'maxMsgFor',
      'validateChannelConfig',
      'setupDevice',
    ]);
  });

  it("should still await the channel's quiesce when onQuiesceStarted throws, so that its rejection is not left unhandled", async () => {
    let innerSettled = false;
    const channel = {
      quiesce: async () => {
        await Promise.resolve();
        innerSettled = true;
        throw new Error('inner quiesce failed');
      },
    } as unknown as TransportChannel;
    const transport = {
      descriptor: { name: 'fake' },
      setupChannel: () => Promise.resolve(channel),
    } as unknown as Transport;
    const instrument = new TransportInstrument(new VirtualClock());
    const setup = {
      direction: 'a2p',
      channel: { id: 0 },
      counters: new ChannelCounters(),
      sink: { rx: () => undefined, badMessage: () => undefined },
    } as unknown as ChannelSetup;
    const wrapped = await instrument.wrap(transport).setupChannel(setup);
    instrument.onQuiesceStarted = () => {
      throw new Error('hook failed');
    };
    await expect(wrapped.quiesce()).rejects.toThrow('inner quiesce failed');
    expect(innerSettled).toBe(true);
  });

  it("should forward the channel's sink.failInFlight with its result, and record one made after the channel's quiesce returned", async () => {
    let sink: ChannelSetup['sink'] | undefined;
    const channel = { quiesce: () => Promise.resolve() } as unknown as TransportChannel;
    const transport = {
      descriptor: { name: 'fake' },
      setupChannel: (s: ChannelSetup) => {
        sink = s.sink;
        return Promise.resolve(channel);
      },
    } as unknown as Transport;
    const instrument = new TransportInstrument(new VirtualClock());
    const failed: unknown[] = [];
    const setup = {
      direction: 'a2p',
      channel: { id: 0 },
      counters: new ChannelCounters(),
      sink: {
        rx: () => undefined,
        badMessage: () => undefined,
        failInFlight: (e: unknown) => failed.push(e),
      },
    } as unknown as ChannelSetup;
    const wrapped = await instrument.wrap(transport).setupChannel(setup);
    expect(sink?.failInFlight('gone')).toBe(1);
    expect(instrument.violations).toEqual([]);
    await wrapped.quiesce();
    sink?.failInFlight('gone again');
    expect(failed).toEqual(['gone', 'gone again']);
    expect(instrument.violations).toEqual(['a2p:0: sink.failInFlight after its quiesce returned']);
  });
});
