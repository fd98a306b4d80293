/**
 * Every Redis key solgate uses is built here and nowhere else: `<prefix>:<entity>[:<id>[:<facet>]]`.
 * Lua scripts never build a key: every key a script touches is passed in KEYS (listed in its header).
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
  /** SCAN pattern matching every claim key (repair tooling), and the uuid back from such a key. */
  claimPattern() {
    return this.claim('*');
  }
  uuidOfClaimKey(key: string) {
    return key.slice(`${this.prefix}:node:`.length, -':claim'.length);
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

  // --- pub/sub ------------------------------------------------------------------------------
  /** Channel: node intent changes ("node:<uuid>") and membership changes ("member:<id>"). */
  events() {
    return `${this.prefix}:events`;
  }
}
