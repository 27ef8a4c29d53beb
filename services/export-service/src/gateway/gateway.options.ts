/** The viewer's gateway: its limits and cache times (EXPORT_* settings override the defaults in config). */
export interface GatewayOptions {
  /** How long a grant is trusted before the token service is asked again: the revocation delay. */
  grantCacheMs: number;
  /** How long a study's series list and a series' instance list are kept for the membership checks. */
  membershipCacheMs: number;
  perToken: { rate: number; burst: number };
  perClient: { rate: number; burst: number };
  /** Relayed responses one client address may have open at once. */
  maxInFlightPerClient: number;
  /** A relayed response that the client stops reading for this long is cut, freeing its slot. */
  clientStallMs: number;
  /**
   * How long a series' metadata is kept and shared (viewers opening the same study at once ask the
   * store once): 0 turns it off.
   */
  metadataCacheMs: number;
  /** Instances in one QIDO-RS answer at most (the store reads each one's file): more are paged with `offset`. */
  maxInstanceResults: number;
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = Object.freeze({
  grantCacheMs: 2_000,
  membershipCacheMs: 60_000,
  perToken: { rate: 100, burst: 1_000 },
  perClient: { rate: 200, burst: 2_000 },
  // As many as nginx lets one address hold open to the gateway (limit_conn dicomweb_conn 32).
  maxInFlightPerClient: 32,
  clientStallMs: 60_000,
  maxInstanceResults: 1_000,
  metadataCacheMs: 30_000,
});
