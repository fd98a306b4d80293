import { readListeningSockets } from '#libs/console';

export { readListeningSockets };

/** Whether something listens on a tcp://host:port URL, per a socket table read with readListeningSockets(). */
export function urlListens(url: string, sockets: ReadonlySet<string>): boolean {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(url);
  return !!m && sockets.has(`${m[1]}:${m[2]}`);
}

/** Whether something listens on a tcp://host:port URL right now (the kernel's table; no connection made). */
export async function listensNow(url: string): Promise<boolean> {
  return urlListens(url, await readListeningSockets());
}
