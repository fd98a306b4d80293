/** Ironic's link pair for a resource: `self` under /v1 and `bookmark` without the version. */
export function links(base: string, path: string) {
  return [
    { href: `${base}/v1/${path}`, rel: 'self' },
    { href: `${base}/${path}`, rel: 'bookmark' },
  ];
}
