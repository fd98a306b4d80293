# solgate: the command shellinaboxd runs for each browser session of an ipmitool-shellinabox console.
#
#   perl shellinabox-relay.pl LEASE_FILE SOCKET
#
# shellinaboxd gives the session a pty in cooked mode: it would echo, turn Ctrl-C into SIGINT and
# CR into LF, none of which a serial console wants (the node echoes and interprets what it gets).
# So the pty is put in raw mode first (POSIX is in perl-base), then this process becomes
# console-relay.pl, the relay socat runs for TCP clients, which joins the node's console broker over
# its UNIX socket: the browser is one more viewer of the one BMC session, with the broker's history,
# write lock and escapes. The pty keeps its settings across exec.
use POSIX ();
my ($lease_file, $path) = @ARGV;
if (-t STDIN) {
  my $t = POSIX::Termios->new;
  if (defined $t->getattr(0)) {
    $t->setiflag($t->getiflag & ~(POSIX::IGNBRK | POSIX::BRKINT | POSIX::PARMRK | POSIX::ISTRIP | POSIX::INLCR | POSIX::IGNCR | POSIX::ICRNL | POSIX::IXON));
    $t->setoflag($t->getoflag & ~POSIX::OPOST);
    $t->setlflag($t->getlflag & ~(POSIX::ECHO | POSIX::ECHONL | POSIX::ICANON | POSIX::ISIG | POSIX::IEXTEN));
    $t->setcflag(($t->getcflag & ~(POSIX::CSIZE | POSIX::PARENB)) | POSIX::CS8);
    $t->setcc(POSIX::VMIN, 1);
    $t->setcc(POSIX::VTIME, 0);
    $t->setattr(0, POSIX::TCSANOW);
  }
}
# who the broker lists: the browser's address is not known past socat and shellinaboxd's socket
$ENV{SOCAT_PEERADDR} = 'shellinabox';
$ENV{SOCAT_PEERPORT} = '0';
# stay in the pty's foreground process group (console-relay.pl would leave it: SIGTTIN on read)
$ENV{SOLGATE_RELAY_ON_TTY} = '1';
(my $dir = $0) =~ s{/[^/]*$}{};
exec('perl', "$dir/console-relay.pl", $lease_file, $path) or exit 1;
