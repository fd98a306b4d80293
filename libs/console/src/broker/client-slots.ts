/**
 * A conductor-wide cap on console clients that reach it over TCP (each holds a descriptor in the
 * conductor: the relay's UNIX socket), shared by every node's TcpFront. socat's max-children caps
 * one port; without this, slow or idle clients spread over a few ports could take every descriptor
 * the conductor has and fail its heartbeats, as slow API clients could (hardening finding 4). The
 * size comes from the open-files limit (apps/conductor fd-budget.ts).
 */
export class ClientSlots {
  private inUse = 0;
  /** Clients turned away at the cap (a metric). */
  refused = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`invalid console client cap ${max}`);
  }

  get open(): number {
    return this.inUse;
  }

  /** Take a slot; false (and counted) at the cap. */
  tryTake(): boolean {
    if (this.inUse >= this.max) {
      this.refused++;
      return false;
    }
    this.inUse++;
    return true;
  }

  release(): void {
    if (this.inUse > 0) this.inUse--;
  }
}
