/** The state of one clock. */
export interface ClockSnapshot {
  /** Current rate in Hz. */
  readonly rate: number;
  /** Whether the clock is enabled. */
  readonly enabled: boolean;
  /** Current parent clock id, if the clock has parents. */
  readonly parent: number | undefined;
}

/** The state of one performance domain. */
export interface PerformanceSnapshot {
  /** Current level value. */
  readonly level: number;
  /** Lower limit (level value). */
  readonly min: number;
  /** Upper limit (level value). */
  readonly max: number;
}

/** The state of one sensor. */
export interface SensorSnapshot {
  /** Whether the sensor is enabled (SENSOR_CONFIG bit 0). */
  readonly enabled: boolean;
  /** The reading now (of the first axis for a multi-axis sensor). */
  readonly reading: number;
  /** The update interval in ms, or undefined for a sensor without update intervals. */
  readonly updateIntervalMs: number | undefined;
}

/** The state of one reset domain. */
export interface ResetSnapshot {
  /** Whether the reset is explicitly asserted. */
  readonly asserted: boolean;
  /** Autonomous resets completed. */
  readonly resets: number;
}

/**
 * The state of one voltage domain: what VOLTAGE_LEVEL_GET and VOLTAGE_CONFIG_GET answer now (an
 * asynchronous level set shows here only once it completed).
 *
 * @example
 * ```ts
 * const vddcore = platform.snapshot().voltageDomains[0]; // the default configuration's domain 0
 * vddcore?.level; // 900000
 * vddcore?.config; // 0x7 (ON)
 * ```
 */
export interface VoltageSnapshot {
  /** Current level in µV (signed). */
  readonly level: number;
  /** Current VOLTAGE_CONFIG mode (bits 3:0): 0x0 OFF, 0x7 ON, 0x8–0xF implementation defined. */
  readonly config: number;
}

/**
 * The device state of the emulated platform at one moment, indexed by domain id (see
 * {@link ScmiPlatform.snapshot}). Plain data.
 */
export interface PlatformStateSnapshot {
  /** Power state of each power domain. */
  readonly powerDomains: readonly number[];
  /** The system power state, or undefined when the protocol is not implemented. */
  readonly systemPower: number | undefined;
  /** Each performance domain. */
  readonly performanceDomains: readonly PerformanceSnapshot[];
  /** Each clock. */
  readonly clocks: readonly ClockSnapshot[];
  /** Each sensor. */
  readonly sensors: readonly SensorSnapshot[];
  /** Each reset domain. */
  readonly resetDomains: readonly ResetSnapshot[];
  /** Each voltage domain. */
  readonly voltageDomains: readonly VoltageSnapshot[];
}

/** One notification an agent subscribed to. */
export interface NotificationSubscription {
  /** The protocol id. */
  readonly protocolId: number;
  /** The notification id within the protocol. */
  readonly notificationId: number;
  /** The domain (0 for protocol-wide notifications: Base errors, system power). */
  readonly domainId: number;
}
