/**
 * Every Redis key solgate uses is built here and nowhere else: `<prefix>:<entity>[:<id>[:<facet>]]`.
 * Lua scripts receive all the keys they touch through KEYS; per-entity keys they must derive at run
 * time (e.g. a member's hash from its id) are documented in the script header and use the same
 * layout with the prefix passed in ARGV.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  // --- nodes (the user's intent) ------------------------------------------------------------
  /** Hash: the node record (fields of NodeRecord; driver_info as JSON; password stored, never returned). */
  node(uuid: string) {
    return `${this.prefix}:node:${uuid}`;
  }
  /** Sorted set of every node uuid, scored by creation time (ms). */
  nodes() {
    return `${this.prefix}:nodes`;
  }
  /** Hash name → uuid (names are unique, as in Ironic). */
  nodeNames() {
    return `${this.prefix}:node-names`;
  }
  /** Counter bumped by every change that matters to a reconciler (intent, spec, deletion). */
  nodesVersion() {
    return `${this.prefix}:nodes-version`;
  }
  /** Set of uuids whose console the user wants enabled. */
  consoleEnabled() {
    return `${this.prefix}:console-enabled`;
  }

  // --- consoles (observed state, written by the owning conductor) ---------------------------
  /** Hash: state, conductor, incarnation, epoch, url, port, pid, last_error, updated_at, generation. */
  consoleState(uuid: string) {
    return `${this.prefix}:node:${uuid}:console`;
  }
  /** Hash: the node's claim: member, incarnation, epoch. Changed only by Lua compare-and-set. */
  claim(uuid: string) {
    return `${this.prefix}:node:${uuid}:claim`;
  }
  /** Counter: claim epochs, monotonically increasing across the cluster. */
  claimEpoch() {
    return `${this.prefix}:claim-epoch`;
  }

  // --- cluster membership -------------------------------------------------------------------
  /** Sorted set member id → last heartbeat (Redis TIME, ms). */
  members() {
    return `${this.prefix}:members`;
  }
  /** Hash member id → current incarnation (a fresh id per process start). */
  memberIncarnations() {
    return `${this.prefix}:member-incarnations`;
  }
  /** Hash: a member's incarnation, API URL, console address, group, state, started_at. */
  member(id: string) {
    return `${this.prefix}:member:${id}`;
  }
  /** Set of member ids an operator has drained (they stay out of the ring until undrained). */
  drained() {
    return `${this.prefix}:drained`;
  }
  /**
   * String with a TTL of one heartbeat timeout, set when a conductor notices a new Redis instance
   * (restart or failover): while it exists, claims are not taken from members that merely look dead.
   */
  takeoverHold() {
    return `${this.prefix}:takeover-hold`;
  }
  /** String: random id written once per Redis dataset; its absence reveals a new, empty Redis. */
  clusterIncarnation() {
    return `${this.prefix}:cluster-incarnation`;
  }

  // --- web console ---------------------------------------------------------------------------
  /** String: the cluster secret that signs WebSocket relays between conductors (created once, SET NX). */
  uiRelaySecret() {
    return `${this.prefix}:ui:relay-secret`;
  }

  // --- pub/sub ------------------------------------------------------------------------------
  /** Channel: node intent changes ("node:<uuid>") and membership changes ("member:<id>"). */
  events() {
    return `${this.prefix}:events`;
  }
}
