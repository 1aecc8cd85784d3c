/**
 * Bytes of one performance domain's fast-channel slot in `performanceFastChannels.memory`: domain
 * `i`'s slot starts at byte `PERF_FAST_CHANNEL_SLOT_SIZE × i`, whether or not the domains before it
 * have fast channels. The layout is SCP-firmware's (`module/scmi_perf/include/mod_scmi_perf.h`,
 * `enum mod_scmi_perf_fast_channel_memory_offset`: MOD_SCMI_PERF_FAST_CHANNEL_OFFSET_TOTAL), with
 * the four channels of a domain one after the other. Every word is a little-endian u32.
 *
 * @example
 * ```ts
 * // The address the agent writes domain 2's level to, as PERF_DESCRIBE_FASTCHANNEL reports it.
 * const slot = PERF_FAST_CHANNEL_SLOT_SIZE * 2;
 * const levelSet = base + BigInt(slot + PERF_FAST_CHANNEL_LEVEL_SET_OFFSET);
 * ```
 */
export const PERF_FAST_CHANNEL_SLOT_SIZE = 24;

/**
 * Offset in a domain's slot of its LEVEL_SET channel (4 bytes: the level the agent asks for; 0 =
 * nothing asked). The platform reads it at every poll and never clears it.
 *
 * @example
 * ```ts
 * const words = new Uint32Array(memory);
 * words[(PERF_FAST_CHANNEL_SLOT_SIZE * domain + PERF_FAST_CHANNEL_LEVEL_SET_OFFSET) / 4] = 800;
 * ```
 */
export const PERF_FAST_CHANNEL_LEVEL_SET_OFFSET = 0;

/**
 * Offset in a domain's slot of its LIMITS_SET channel (8 bytes: range_max, then range_min; both
 * 0 = nothing asked). The platform reads it at every poll and never clears it.
 *
 * @example
 * ```ts
 * const at = (PERF_FAST_CHANNEL_SLOT_SIZE * domain + PERF_FAST_CHANNEL_LIMITS_SET_OFFSET) / 4;
 * words.set([1200, 400], at); // range_max, range_min
 * ```
 */
export const PERF_FAST_CHANNEL_LIMITS_SET_OFFSET = 4;

/**
 * Offset in a domain's slot of its LEVEL_GET channel (4 bytes: the current level), which the
 * platform rewrites at every change of the domain's level.
 *
 * @example
 * ```ts
 * const at = (PERF_FAST_CHANNEL_SLOT_SIZE * domain + PERF_FAST_CHANNEL_LEVEL_GET_OFFSET) / 4;
 * const level = words[at];
 * ```
 */
export const PERF_FAST_CHANNEL_LEVEL_GET_OFFSET = 12;

/**
 * Offset in a domain's slot of its LIMITS_GET channel (8 bytes: range_max, then range_min, the
 * current limits), which the platform rewrites at every change of the domain's limits.
 *
 * @example
 * ```ts
 * const at = (PERF_FAST_CHANNEL_SLOT_SIZE * domain + PERF_FAST_CHANNEL_LIMITS_GET_OFFSET) / 4;
 * const [max, min] = [words[at], words[at + 1]];
 * ```
 */
export const PERF_FAST_CHANNEL_LIMITS_GET_OFFSET = 16;
