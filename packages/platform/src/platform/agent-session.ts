import { ScmiProtocolId, type PlatformAgentLink } from '@scmi-ts/core';
import type {
  PlatformAgentConfig,
  PlatformConfig,
  PlatformDomainProtocol,
} from '../config/platform-config.js';
import { PROTOCOL_ID_OF, domainProtocolOf } from '../protocols/protocol-names.js';
import { createAgentCounters, type MutableAgentCounters } from './platform-counters.js';

const BASE: number = ScmiProtocolId.BASE;

const DOMAIN_PROTOCOLS: readonly PlatformDomainProtocol[] = [
  'power',
  'performance',
  'clock',
  'sensor',
  'reset',
  'voltage',
];

/** The number of domains of each domain protocol in a configuration. @internal */
export function domainCounts(config: PlatformConfig): Record<PlatformDomainProtocol, number> {
  return {
    power: config.powerDomains?.length ?? 0,
    performance: config.performanceDomains?.length ?? 0,
    clock: config.clocks?.length ?? 0,
    sensor: config.sensors?.length ?? 0,
    reset: config.resetDomains?.length ?? 0,
    voltage: config.voltageDomains?.length ?? 0,
  };
}

/**
 * One configured agent as the platform sees it: its permissions (which Base commands may change),
 * its connection if any, and its notification subscriptions. @internal
 */
export class AgentSession {
  public readonly id: number;
  public readonly config: PlatformAgentConfig;
  public link: PlatformAgentLink | undefined;
  /** Protocol ids the agent may use (Base excluded). */
  readonly #protocols: Set<number>;
  readonly #domains = new Map<PlatformDomainProtocol, Set<number>>();
  readonly #counts: Record<PlatformDomainProtocol, number>;
  readonly #subscriptions = new Set<string>();
  /** protocol id → version chosen with NEGOTIATE_PROTOCOL_VERSION. */
  readonly #versions = new Map<number, number>();
  /** What the platform did for this agent (see `ScmiPlatform.agentCounters`). */
  public readonly counters: MutableAgentCounters = createAgentCounters();
  /** Responses sent to this agent with status 0 … −15, at index −status (a typed array: cheap). */
  readonly #statusCounts = new Float64Array(16);
  /** Responses with any other status (a corrupted or future one). */
  readonly #otherStatuses = new Map<number, number>();

  public constructor(config: PlatformAgentConfig, platform: PlatformConfig) {
    this.id = config.id;
    this.config = config;
    this.#protocols = new Set(config.protocols.map((p) => PROTOCOL_ID_OF[p]));
    this.#counts = domainCounts(platform);
    this.resetPermissions();
  }

  /**
   * Protocol ids the agent may use (Base excluded): those of its configured `protocols`, and the
   * vendor protocols granted to it. Fixed once the platform is built: the Base permission
   * commands change domain permissions, not this set.
   */
  public get protocols(): ReadonlySet<number> {
    return this.#protocols;
  }

  /** Lets the agent use a vendor protocol (while the platform is built). */
  public grantProtocol(protocolId: number): void {
    this.#protocols.add(protocolId);
  }

  /** Counts a response sent to this agent with `status` (an SCMI status code). */
  public countStatus(status: number): void {
    if (status <= 0 && status > -16)
      this.#statusCounts[-status] = (this.#statusCounts[-status] ?? 0) + 1;
    else this.#otherStatuses.set(status, (this.#otherStatuses.get(status) ?? 0) + 1);
  }

  /** The responses sent to this agent by status, as [status, count] pairs, SUCCESS first. */
  public statuses(): [status: number, count: number][] {
    const out: [number, number][] = [];
    this.#statusCounts.forEach((n, i) => {
      if (n > 0) out.push([-i, n]);
    });
    for (const entry of this.#otherStatuses) out.push(entry);
    return out;
  }

  /** Restores the domain permissions of the configuration. */
  public resetPermissions(): void {
    for (const p of DOMAIN_PROTOCOLS) {
      const listed = this.config.domains?.[p];
      const ids = listed ?? Array.from({ length: this.#counts[p] }, (_, i) => i);
      this.#domains.set(p, new Set(ids));
    }
  }

  /** Whether the agent may use domain `id` of protocol `p`. */
  public mayUse(p: PlatformDomainProtocol, id: number): boolean {
    return this.#domains.get(p)?.has(id) ?? false;
  }

  /**
   * Whether notification `notificationId` of protocol `protocolId` about domain `domainId` goes to
   * the agent now: it is subscribed, and — Base notifications aside — may use the protocol and,
   * for a protocol with domains, the domain ({@link AgentSession.mayUse}) at this moment: a domain
   * denied after the agent subscribed gets nothing, and allowing it again resumes delivery.
   */
  public receives(protocolId: number, notificationId: number, domainId: number): boolean {
    if (!this.subscribed(protocolId, notificationId, domainId)) return false;
    if (protocolId === BASE) return true;
    if (!this.#protocols.has(protocolId)) return false;
    const domainProtocol = domainProtocolOf(protocolId);
    return domainProtocol === undefined || this.mayUse(domainProtocol, domainId);
  }

  /** Allows or denies domain `id` of protocol `p`. */
  public setAllowed(p: PlatformDomainProtocol, id: number, allow: boolean): void {
    const set = this.#domains.get(p);
    if (set === undefined) return;
    if (allow) set.add(id);
    else set.delete(id);
  }

  /** Turns the notification `notificationId` of protocol `protocolId` on one domain on or off. */
  public subscribe(
    protocolId: number,
    notificationId: number,
    domainId: number,
    on: boolean,
  ): void {
    const key = subscriptionKey(protocolId, notificationId, domainId);
    if (on) this.#subscriptions.add(key);
    else this.#subscriptions.delete(key);
  }

  /** Whether the agent subscribed to the notification on the domain. */
  public subscribed(protocolId: number, notificationId: number, domainId: number): boolean {
    return this.#subscriptions.has(subscriptionKey(protocolId, notificationId, domainId));
  }

  /** Every subscription, as `[protocolId, notificationId, domainId]`. */
  public subscriptions(): [number, number, number][] {
    return [...this.#subscriptions].map(
      (k) => k.split(':').map(Number) as [number, number, number],
    );
  }

  /** Drops every subscription. */
  public clearSubscriptions(): void {
    this.#subscriptions.clear();
  }

  /** The version the agent negotiated for a protocol, if it did. */
  public negotiatedVersion(protocolId: number): number | undefined {
    return this.#versions.get(protocolId);
  }

  /** Records the version the agent negotiated for a protocol. */
  public negotiate(protocolId: number, version: number): void {
    this.#versions.set(protocolId, version);
  }

  /** Forgets every negotiated version (the agent disconnected). */
  public clearVersions(): void {
    this.#versions.clear();
  }
}

function subscriptionKey(protocolId: number, notificationId: number, domainId: number): string {
  return `${protocolId}:${notificationId}:${domainId}`;
}
