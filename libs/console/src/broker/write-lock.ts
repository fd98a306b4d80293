/**
 * Who is attached to a node's console and who holds its write lock (conserver's manners): the first
 * viewer that may write gets the lock when it attaches and nobody holds it; later ones read; `take`
 * succeeds only when the lock is free, `force` always (the holder is told); when the holder leaves
 * or gives the lock up it passes to the longest-attached other viewer that may write. Pure: every
 * call returns the lock change it caused, if any.
 */
export interface LockMember {
  id: string;
  readOnly: boolean;
}

export interface LockMove {
  writer: string | null;
  previous: string | null;
  forced: boolean;
  cause: 'attach' | 'take' | 'force' | 'release' | 'detach';
}

export type TakeResult = { ok: true; move: LockMove | null } | { ok: false; why: 'read-only' | 'held' | 'unknown' };

export class WriteLock {
  /** Attach order (Map keeps insertion order). */
  private readonly members = new Map<string, LockMember>();
  private holder: string | null = null;

  get writer(): string | null {
    return this.holder;
  }

  get size(): number {
    return this.members.size;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  /** Longest-attached first. */
  ids(): string[] {
    return [...this.members.keys()];
  }

  attach(m: LockMember, forceWrite = false): LockMove | null {
    if (this.members.has(m.id)) throw new Error(`viewer ${m.id} is already attached`);
    this.members.set(m.id, { ...m });
    if (m.readOnly) return null;
    if (this.holder === null) return this.move(m.id, false, 'attach');
    if (forceWrite) return this.move(m.id, true, 'attach');
    return null;
  }

  detach(id: string): LockMove | null {
    if (!this.members.delete(id)) return null;
    if (this.holder !== id) return null;
    return this.move(this.successor(id), false, 'detach');
  }

  take(id: string, force: boolean): TakeResult {
    const m = this.members.get(id);
    if (!m) return { ok: false, why: 'unknown' };
    if (m.readOnly) return { ok: false, why: 'read-only' };
    if (this.holder === id) return { ok: true, move: null };
    if (this.holder !== null && !force) return { ok: false, why: 'held' };
    return { ok: true, move: this.move(id, this.holder !== null, this.holder !== null ? 'force' : 'take') };
  }

  release(id: string): LockMove | null {
    if (this.holder !== id) return null;
    return this.move(this.successor(id), false, 'release');
  }

  private successor(leaving: string): string | null {
    for (const m of this.members.values()) if (m.id !== leaving && !m.readOnly) return m.id;
    return null;
  }

  private move(to: string | null, forced: boolean, cause: LockMove['cause']): LockMove | null {
    if (to === this.holder) return null;
    const previous = this.holder;
    this.holder = to;
    return { writer: to, previous, forced, cause };
  }
}
