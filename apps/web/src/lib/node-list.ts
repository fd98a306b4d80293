/** What GET /ui/api/nodes returns (apps/conductor/src/ui/node-list.ts builds it). */
export interface NodeRow {
  uuid: string;
  name: string | null;
  group: string;
  interface: string;
  /** disabled | starting | running | restarting | error | stopped */
  state: string;
  owner: string | null;
  viewers: number | null;
  lastError: string | null;
}

export interface NodeListResponse {
  conductor: string;
  total: number;
  matched: number;
  groups: string[];
  nodes: NodeRow[];
}

export const STATES = ['running', 'starting', 'restarting', 'error', 'disabled'] as const;
