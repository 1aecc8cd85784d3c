import type { ChannelSetup, Transport, TransportChannel, Xfer } from '@scmi-ts/core';

/**
 * Builds the channel a decorated transport hands core for `setup`: `open` sets up the inner
 * transport's channel (with the setup it is given, so a decorator may hand it another sink).
 */
export type ChannelDecorator = (
  setup: ChannelSetup,
  open: (setup: ChannelSetup) => Promise<TransportChannel>,
) => Promise<TransportChannel>;

/**
 * `inner` with each channel built by `decorate`, and every optional hook of `inner` kept (bound to
 * it: a transport may be a class instance), so that core sets the agent up as it would over
 * `inner`. Test support: the self-tests of the conformance kit build deliberately broken
 * transports this way.
 */
export function decorateTransport(inner: Transport, decorate: ChannelDecorator): Transport {
  const wrapped: Transport = {
    descriptor: inner.descriptor,
    setupChannel: (setup) => decorate(setup, (s) => inner.setupChannel(s)),
  };
  if (inner.validateConfig !== undefined) wrapped.validateConfig = inner.validateConfig.bind(inner);
  if (inner.maxMsgFor !== undefined) wrapped.maxMsgFor = inner.maxMsgFor.bind(inner);
  if (inner.validateChannelConfig !== undefined)
    wrapped.validateChannelConfig = inner.validateChannelConfig.bind(inner);
  if (inner.validateChannels !== undefined)
    wrapped.validateChannels = inner.validateChannels.bind(inner);
  if (inner.setupDevice !== undefined) wrapped.setupDevice = inner.setupDevice.bind(inner);
  return wrapped;
}

/**
 * A channel that forwards every call to `inner` (its optional `clearChannel` and `pollDone` too,
 * when it has them), except the ones `overrides` replaces.
 */
export function forwardChannel(
  inner: TransportChannel,
  overrides: Partial<TransportChannel> = {},
): TransportChannel {
  const channel: TransportChannel = {
    maxInFlight: inner.maxInFlight,
    send: (xfer) => inner.send(xfer),
    fetchResponse: (xfer, ctx) => {
      inner.fetchResponse(xfer, ctx);
    },
    fetchNotification: (buffer, ctx) => {
      inner.fetchNotification(buffer, ctx);
    },
    markTxDone: (xfer, error) => {
      inner.markTxDone(xfer, error);
    },
    quiesce: () => inner.quiesce(),
    free: () => inner.free(),
  };
  const clear = inner.clearChannel?.bind(inner);
  if (clear !== undefined) channel.clearChannel = clear;
  const poll = inner.pollDone?.bind(inner);
  if (poll !== undefined) channel.pollDone = poll;
  return { ...channel, ...overrides };
}

/** A transfer sent on a channel, and the header it was sent with (an Xfer is reused once put back). */
export interface SentTransfer {
  readonly xfer: Xfer;
  readonly header: number;
}

/**
 * {@link forwardChannel} of `inner` that keeps `inFlight` up to date: each transfer sent is
 * appended (oldest first) and removed when core calls its `markTxDone`.
 */
export function forwardTrackingInFlight(
  inner: TransportChannel,
  inFlight: SentTransfer[],
): TransportChannel {
  return forwardChannel(inner, {
    send: (xfer) => {
      inFlight.push({ xfer, header: xfer.header });
      return inner.send(xfer);
    },
    markTxDone: (xfer, error) => {
      const i = inFlight.findIndex((t) => t.xfer === xfer);
      if (i >= 0) inFlight.splice(i, 1);
      inner.markTxDone(xfer, error);
    },
  });
}
