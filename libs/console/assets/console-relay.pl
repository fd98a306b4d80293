# solgate: the command socat runs for each console client (EXEC:...,nofork: this process holds the
# client's TCP connection on stdin/stdout, and socat has put its peer in SOCAT_PEERADDR/PEERPORT).
#
#   perl console-relay.pl LEASE_FILE SOCKET
#
# It checks the conductor's lease (as sol-session.sh does: a paused conductor's stale listener must
# not hand out a console), connects to the node's console broker in the conductor over the per-node
# UNIX socket, says who the client is in one line ("SOLGATE-PEER <address> <port>"), then copies
# bytes both ways until either side closes. It leaves socat's process group so that stopping the
# console's listener does not cut the client off before the broker has told it why; it ends when
# the broker (or the conductor) closes its socket, when the client hangs up, or when the client
# stops reading for a minute. Plain perl-base, no modules: it starts in a few milliseconds.
setpgrp(0, 0);
my ($lease_file, $path) = @ARGV;
my $stale = "solgate: this console listener is stale (its conductor lost its lease); ask the API for the current console URL.\r\n";
open(my $up, '<', '/proc/uptime') or exit 1;
my ($uptime) = split(/ /, scalar <$up>);
close($up);
(my $now = $uptime) =~ s/\.//;                       # centiseconds, as the lease file holds them
my $deadline = 0;
if (open(my $lf, '<', $lease_file)) { my $l = <$lf>; close($lf); $deadline = $1 if defined $l && $l =~ /^(\d+)/; }
if ($now >= $deadline) { syswrite(STDOUT, $stale); exit 1; }

socket(S, 1, 1, 0) or exit 1;                        # AF_UNIX, SOCK_STREAM
connect(S, pack('S Z*', 1, $path)) or do { syswrite(STDOUT, "solgate: this console is not served here any more; ask the API for the current console URL.\r\n"); exit 1 };
my $peer = ($ENV{SOCAT_PEERADDR} // '') . ' ' . ($ENV{SOCAT_PEERPORT} // '');
$peer =~ s/[^0-9A-Za-z.:\[\] %-]//g;
writeall(\*S, "SOLGATE-PEER $peer\n") or exit 1;

sub writeall {
  my ($fh, $buf) = @_;
  while (length $buf) {
    alarm(60);                                       # a client that stops reading for a minute is dropped
    my $n = syswrite($fh, $buf);
    alarm(0);
    return 0 unless defined $n && $n > 0;
    substr($buf, 0, $n) = '';
  }
  return 1;
}

my $rin = '';
vec($rin, 0, 1) = 1;
vec($rin, fileno(S), 1) = 1;
my $buf;
while (1) {
  my $r = $rin;
  my $n = select($r, undef, undef, undef);
  next if $n < 0;                                    # EINTR
  if (vec($r, 0, 1)) {
    my $got = sysread(STDIN, $buf, 65536);
    if (!$got) { shutdown(S, 1); vec($rin, 0, 1) = 0; }   # the client hung up: the broker closes us
    else { writeall(\*S, $buf) or exit 0; }
  }
  if (vec($r, fileno(S), 1)) {
    my $got = sysread(S, $buf, 65536);
    exit 0 unless $got;                              # the broker closed: so do we (socat-side TCP closes)
    writeall(\*STDOUT, $buf) or exit 0;
  }
}
