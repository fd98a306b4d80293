import { listeningSockets } from '#libs/console';

export { listeningSockets };

/** Whether something listens on a tcp://host:port URL (no connection made). */
export function urlListens(url: string, sockets = listeningSockets()): boolean {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(url);
  return !!m && sockets.has(`${m[1]}:${m[2]}`);
}
