/** What the API's connection limits did (api-server.ts counts, /metrics reads). */
export const apiConnections = { open: 0, max: 0, dropped: 0 };
