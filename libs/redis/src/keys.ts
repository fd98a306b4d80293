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
  /** Hash instance_uuid → node uuid (an instance is on one node at most, as in Ironic; Nova looks nodes up by it). */
  nodeInstances() {
    return `${this.prefix}:node-instances`;
  }
  /** Counter bumped by every change to a node record (creation, intent, spec, deletion). */
  nodesVersion() {
    return `${this.prefix}:nodes-version`;
  }
  /**
   * Sorted set: node uuid scored by the nodes version of its last change (the newest entries only):
   * lets a reader holding every node in memory re-read just what changed since the version it saw.
   */
  nodeChanges() {
    return `${this.prefix}:node-changes`;
  }
  /** Set of uuids whose console the user wants enabled. */
  consoleEnabled() {
    return `${this.prefix}:console-enabled`;
  }

  // --- console ports (sticky, cluster-wide; the node hash's `port` field names a node's port) -
  /** Hash port → uuid: who holds each console port (a port is held by at most one node). */
  consolePorts() {
    return `${this.prefix}:console-ports`;
  }
  /** Hash: the dynamic allocator's range (`start`, `stop`) and cursor (`next`: lowest never-handed-out port). */
  consolePortPool() {
    return `${this.prefix}:console-port-pool`;
  }
  /** Sorted set of released ports (score = port): handed out again, lowest first, before the cursor moves. */
  consolePortsFree() {
    return `${this.prefix}:console-ports-free`;
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

  /**
   * Stream: the node's console log (fields o = offset of the first byte, d = bytes), appended by the
   * owner's broker in ~50 ms batches and trimmed to SOLGATE_CONSOLE_LOG_BYTES (approximately).
   */
  consoleLog(uuid: string) {
    return `${this.prefix}:node:${uuid}:console-log`;
  }
  /** Stream: the node's console audit trail (attach, detach, write lock, break, BMC session), capped. */
  consoleAudit(uuid: string) {
    return `${this.prefix}:node:${uuid}:console-audit`;
  }
  /** String (JSON): who is attached to the node's console, written by the owner's broker. */
  consoleViewers(uuid: string) {
    return `${this.prefix}:node:${uuid}:console-viewers`;
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
  /** Hash: a member's incarnation, API URL, console address, group, state (alive|leaving|dead), joined_at, heartbeat_at, hb_client (its heartbeat connection's CLIENT ID). */
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
  /** String: the run_id of the Redis instance whose takeover hold was started (one hold per instance). */
  takeoverHoldRunId() {
    return `${this.prefix}:takeover-hold-run-id`;
  }
  /** String: random id written once per Redis dataset; its absence reveals a new, empty Redis. */
  clusterIncarnation() {
    return `${this.prefix}:cluster-incarnation`;
  }
  /**
   * Hash: parameters every conductor must share (ring_vnodes, heartbeat_timeout_ms, port_range),
   * published by the first conductor (publishClusterSettings-3.lua) and read by the CLI.
   */
  clusterSettings() {
    return `${this.prefix}:cluster-settings`;
  }

  // --- leases (one holder in the cluster) ----------------------------------------------------
  /** Hash: token, holder, epoch of a named lease (e.g. `ironic-sync`), expiring with the lease. */
  lease(name: string) {
    return `${this.prefix}:lease:${name}`;
  }
  /** Counter: fencing epochs of a named lease. */
  leaseEpoch(name: string) {
    return `${this.prefix}:lease:${name}:epoch`;
  }

  // --- web console ---------------------------------------------------------------------------
  /** String: the cluster secret that signs WebSocket relays between conductors (created once, SET NX). */
  uiRelaySecret() {
    return `${this.prefix}:ui:relay-secret`;
  }

  // --- pub/sub ------------------------------------------------------------------------------
  /**
   * Channel: node changes and released claims ("node:<uuid>"), observed console state written
   * ("console:<uuid>", wakes API calls waiting for the owner) and membership changes ("member:<id>:<what>").
   */
  events() {
    return `${this.prefix}:events`;
  }
}
