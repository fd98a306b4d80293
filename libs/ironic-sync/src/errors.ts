/** Why a sync could not run (the CLI prints the message and exits 1; the conductor logs it and retries next interval). */
export type IronicSyncErrorCode =
  | 'CONFIG' // clouds.yaml, URL or options wrong
  | 'AUTH' // Keystone or Ironic refused the credentials
  | 'IRONIC' // Ironic unreachable or answered something unexpected
  | 'PASSWORDS_MASKED' // every password came back as ******: Ironic's show_password policy hides them
  | 'UNSAFE' // the sync would delete every synced node (Ironic listed none)
  | 'LEASE_LOST'; // the conductor lost its sync lease mid-pass (another conductor syncs now)

export class IronicSyncError extends Error {
  constructor(
    readonly code: IronicSyncErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IronicSyncError';
  }
}
