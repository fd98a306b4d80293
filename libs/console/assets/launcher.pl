#!/usr/bin/perl
# solgate process launcher: starts console processes on behalf of the conductor and owns them.
#
# Why a separate process: Node's spawn() forks the calling process, and on Linux that takes time
# proportional to its memory (page tables are copied). From a conductor holding a few hundred MB it
# blocked the event loop for 5-20 ms per console. This process stays small, so a fork costs well
# under a millisecond, off the conductor's event loop.
#
# Why Perl (perl-base, in every Debian; it already runs every console client's relay): a takeover of
# a thousand consoles is bounded by CPU, and per console this costs about a third of the Node
# launcher it replaces (measured in bench/spawn-floor.ts), and it sets each child's parent-death
# signal itself between fork and exec, which saves one exec per console (`setpriv --pdeathsig`).
#
# Ownership: each child runs in its own process group with the parent-death signal SIGKILL, set
# after the fork and checked against a launcher that died in between; this process has SIGTERM as
# its own (the conductor's pid is its first argument, for the same check). So when the conductor
# dies, even by SIGKILL, the kernel sends this process SIGTERM and it kills every child's whole group
# (socat, socat's per-client children, ipmitool); were this process itself killed outright, the
# kernel kills every child (their parent-death signal) and the conductor kills the rest of their
# groups. When a child exits on its own, its group goes too: its children must not outlive it. An
# architecture without a known prctl syscall number falls back to `setpriv --pdeathsig KILL --`.
#
# Environment: the conductor starts this with a minimal environment (PATH of trusted system
# directories only, see libs/console/src/child-env.ts) and every child gets exactly that: no API
# token, no Redis password. Signal dispositions are reset; no descriptor but 0-3 is inherited.
#
# Secrets: a spawn may carry a secret (a BMC password) and the path for it. It becomes the child's
# fd 3: written to a fresh file (O_EXCL|O_NOFOLLOW, 0600) inside the private runtime directory and
# unlinked at once, so it never stays on disk and is gone with the last process that holds it, even
# after a kill -9 of everything (ipmitool reads it through the link <uuid>.pw -> /proc/self/fd/3).
#
# Protocol: one line per message; every field but the id and pid is `x` + hex (any byte may pass).
#   in (stdin):   S <id> <secret path|-> <secret content|-> <command> <arg>...
#   out (stdout): P <id> <pid>            started
#                 L <id> <text>           a line the child wrote to stderr (raw, without the newline)
#                 X <id> <text>           the launcher could not start it (names a path at most)
#                 E <id> <code|-> <signal|->   exited, and every stderr line was sent before
# stdin closing means the conductor is gone or done: every child's group is killed, then exit.
use strict;
use warnings;
use Config;
use Fcntl qw(F_DUPFD F_GETFL F_SETFL O_CREAT O_EXCL O_NOFOLLOW O_NONBLOCK O_RDWR O_WRONLY);
use POSIX qw(EAGAIN EEXIST EINTR SIG_BLOCK SIG_SETMASK SIGCHLD SIGHUP SIGINT SIGTERM WNOHANG WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG);

my $CONDUCTOR = $ARGV[0] // 0;
my $PATH = $ENV{PATH} // '/usr/bin:/bin';
my @SIGNAME = split ' ', $Config{sig_name};
my $MAX_LINE = 65536;
# prctl(2) by architecture (perl-base has no syscall.ph); PR_SET_PDEATHSIG is 1
my %PRCTL = (x86_64 => 157, aarch64 => 167, riscv64 => 167, loongarch64 => 167, powerpc64 => 171, powerpc64le => 171, s390x => 172, arm => 172, i386 => 172, i686 => 172);
my ($arch) = $Config{archname} =~ /^([^-]+)/;
$arch = 'i686' if $arch && $arch =~ /^i[3-6]86$/;
$arch = 'arm' if $arch && $arch =~ /^arm/;
my $PRCTL_NR = $PRCTL{$arch // ''};

sub set_pdeathsig {
  my ($sig) = @_;
  return 0 unless defined $PRCTL_NR;
  return syscall($PRCTL_NR, 1, $sig, 0, 0, 0) == 0;
}

# our own parent-death signal: SIGTERM when the conductor's thread that started us is gone
if (set_pdeathsig(15)) {
  exit 0 if $CONDUCTOR && getppid() != $CONDUCTOR;    # it died before we could ask
}

# descriptors someone up the line left without close-on-exec must not reach any console
if (opendir(my $d, '/proc/self/fd')) {
  my @stray = grep { /^\d+$/ && $_ > 2 } readdir($d);
  my $own = fileno($d);
  closedir($d);
  POSIX::close($_) for grep { $_ != $own } @stray;
}

open(my $NULL, '+<', '/dev/null') or die "launcher: /dev/null: $!\n";    # every child's stdin and stdout

$SIG{PIPE} = 'IGNORE';    # a gone conductor shows as a write error: we clean up, not die
my $LAUNCHER = $$;
my %kids;                 # pid -> { id, fh, buf, eof, status }
my %by_fd;                # fileno of a stderr pipe -> pid
my $in = '';
my $out = '';
my %pending;              # pid -> 1: stderr closed, not reaped yet
my $rin = '';             # the select set: stdin and every child's stderr
my $stdin_open = 1;
my $term = 0;             # SIGTERM seen: shut down once stdin closes, or 200 ms later
my $stop = 0;

sub hexstr { return unpack('H*', $_[0]) }
sub field {
  my ($f) = @_;
  return undef if !defined $f || $f eq '-';
  die "bad field\n" unless $f =~ /^x((?:[0-9a-f]{2})*)$/;
  return pack('H*', $1);
}

sub emit { $out .= join(' ', @_) . "\n" }

sub flush_out {
  while (length $out) {
    my $n = syswrite(STDOUT, $out);
    if (!defined $n) {
      next if $! == EINTR;
      if ($! == EAGAIN) { wait_writable(); next }
      $stop = 1;    # the conductor is gone
      $out = '';
      return;
    }
    substr($out, 0, $n) = '';
  }
}

sub wait_writable {
  my $w = '';
  vec($w, fileno(STDOUT), 1) = 1;
  select(undef, $w, undef, 1);
}

sub kill_group { my ($pid) = @_; kill('KILL', -$pid) }

sub secret_fh {
  my ($path, $content) = @_;
  my $fh;
  my $flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW;
  if (!sysopen($fh, $path, $flags, 0600)) {
    die "cannot create $path: $!\n" unless $! == EEXIST;
    unlink($path);    # never written through: a new file or nothing
    sysopen($fh, $path, $flags, 0600) or die "cannot create $path: $!\n";
  }
  unlink($path) or die "cannot unlink $path: $!\n";
  my $off = 0;
  while ($off < length $content) {
    my $n = syswrite($fh, $content, length($content) - $off, $off);
    die "cannot write $path: $!\n" unless defined $n;
    $off += $n;
  }
  return $fh;
}

# the signals this process handles itself: blocked from before a fork until the child has reset them
my $OWN_SIGNALS = POSIX::SigSet->new(SIGTERM, SIGINT, SIGHUP, SIGCHLD);

# In the child, between fork and exec, with $OWN_SIGNALS blocked. Never returns.
sub exec_child {
  my ($w, $secret, $argv, $mask) = @_;
  my @pre = defined $PRCTL_NR ? () : ('setpriv', '--pdeathsig', 'KILL', '--');
  eval {
    setpgrp(0, 0) or die "setpgid: $!\n";
    if (defined $PRCTL_NR) {
      set_pdeathsig(9) or die "prctl(PR_SET_PDEATHSIG): $!\n";
      POSIX::_exit(1) if getppid() != $LAUNCHER;    # the launcher died before that
    }
    # an ignored signal would stay ignored across exec; and a stop that came since the fork is still
    # pending (blocked), so it ends this child once the default action is back, as it would the command
    $SIG{$_} = 'DEFAULT' for qw(PIPE TERM INT HUP CHLD);
    POSIX::sigprocmask(SIG_SETMASK, $mask) or die "sigprocmask: $!\n";
    # sources above the targets first, then onto 0-3 (dup2 clears close-on-exec)
    my $nfd = fcntl($NULL, F_DUPFD, 10) or die "dup: $!\n";
    my $efd = fcntl($w, F_DUPFD, 10) or die "dup: $!\n";
    my $sfd = $secret ? (fcntl($secret, F_DUPFD, 10) or die "dup: $!\n") : undef;
    for ([$nfd, 0], [$nfd, 1], [$efd, 2], (defined $sfd ? [$sfd, 3] : ())) {
      defined POSIX::dup2($_->[0], $_->[1]) or die "dup2: $!\n";
    }
    POSIX::close($_) for grep { defined } $nfd, $efd, $sfd;
    %ENV = (PATH => $PATH);
    my @cmd = (@pre, @$argv);
    { no warnings 'exec'; exec { $cmd[0] } @cmd; }
    die "cannot run $argv->[0]: $!\n";
  };
  my $msg = $@ || "cannot run\n";
  syswrite(STDERR, "launcher: $msg");
  POSIX::_exit(127);
}

sub spawn_child {
  my ($id, @f) = @_;
  my ($path, $content, @argv) = map { field($_) } @f;
  die "no command\n" unless @argv && defined $argv[0] && length $argv[0];
  my $secret = defined $path ? secret_fh($path, $content // '') : undef;
  pipe(my $r, my $w) or die "pipe: $!\n";
  # A stop can come as soon as the conductor has the pid, before the child has exec'd. Blocked
  # until the child has reset its dispositions, it is not lost to this process's own handlers; and
  # the group exists before the pid is reported (the child makes it too: whoever runs first).
  my $mask = POSIX::SigSet->new;
  POSIX::sigprocmask(SIG_BLOCK, $OWN_SIGNALS, $mask) or die "sigprocmask: $!\n";
  my $pid = fork();
  exec_child($w, $secret, \@argv, $mask) if defined $pid && $pid == 0;
  setpgrp($pid, $pid) if defined $pid;    # fails only once the child has exec'd: it made it itself
  POSIX::sigprocmask(SIG_SETMASK, $mask);
  die "fork: $!\n" unless defined $pid;
  close($w);
  close($secret) if $secret;    # the child holds its own copy
  my $fl = fcntl($r, F_GETFL, 0);
  fcntl($r, F_SETFL, $fl | O_NONBLOCK);
  $kids{$pid} = { id => $id, fh => $r, buf => '', eof => 0, status => undef };
  $by_fd{ fileno($r) } = $pid;
  vec($rin, fileno($r), 1) = 1;
  emit('P', $id, $pid);
}

sub command {
  my ($line) = @_;
  my ($op, $id, @f) = split / /, $line, -1;
  return unless defined $op && $op eq 'S' && defined $id && $id =~ /^\d+$/;
  eval { spawn_child($id, @f); 1 } or do {
    my $msg = $@ || 'cannot start';
    chomp $msg;
    emit('X', $id, hexstr($msg));
    emit('E', $id, '-', '-');
  };
}

sub read_kid {
  my ($pid) = @_;
  my $k = $kids{$pid};
  for (;;) {
    my $n = sysread($k->{fh}, my $chunk, 65536);
    if (!defined $n) {
      next if $! == EINTR;
      last if $! == EAGAIN;
      $n = 0;    # an error ends it like EOF
    }
    if ($n == 0) {
      $k->{eof} = 1;
      emit('L', $k->{id}, hexstr($k->{buf})) if length $k->{buf};    # a last line without newline
      $k->{buf} = '';
      delete $by_fd{ fileno($k->{fh}) };
      vec($rin, fileno($k->{fh}), 1) = 0;
      close($k->{fh});
      $pending{$pid} = 1 unless defined $k->{status};
      last;
    }
    $k->{buf} .= $chunk;
    while ($k->{buf} =~ s/^([^\n]*)\n//) {
      my $l = $1;
      $l =~ s/\r$//;
      emit('L', $k->{id}, hexstr($l));
    }
    if (length $k->{buf} > $MAX_LINE) {
      emit('L', $k->{id}, hexstr($k->{buf}));
      $k->{buf} = '';
    }
  }
  finish($pid);
}

sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $k = $kids{$pid} or next;
    $k->{status} = $?;
    kill_group($pid);    # the per-client children of a socat that died
    finish($pid);
  }
}

# exit reported once the child is reaped and its stderr is drained (every line sent first)
sub finish {
  my ($pid) = @_;
  my $k = $kids{$pid};
  return unless $k && $k->{eof} && defined $k->{status};
  delete $kids{$pid};
  delete $pending{$pid};
  my $st = $k->{status};
  my ($code, $sig) = ('-', '-');
  if (WIFEXITED($st)) { $code = WEXITSTATUS($st) }
  elsif (WIFSIGNALED($st)) { $sig = 'SIG' . ($SIGNAME[ WTERMSIG($st) ] // WTERMSIG($st)) }
  emit('E', $k->{id}, $code, $sig);
}

sub shutdown_all {
  kill_group($_) for keys %kids;
  exit 0;
}

$SIG{CHLD} = sub { };    # wakes select
$SIG{TERM} = sub { $term = 1 };
$SIG{INT} = $SIG{HUP} = sub { $stop = 1 };

my $fl = fcntl(STDIN, F_GETFL, 0);
fcntl(STDIN, F_SETFL, $fl | O_NONBLOCK);
vec($rin, fileno(STDIN), 1) = 1;

for (;;) {
  reap();
  flush_out();
  shutdown_all() if $stop || !$stdin_open;
  if ($term) {
    # the conductor died: its end of our stdin closes once its last thread is gone; wait for that, briefly
    my $t = '';
    vec($t, fileno(STDIN), 1) = 1;
    select(my $tout = $t, undef, undef, 0.2);
    shutdown_all();
  }
  # a child whose stderr closed before it could be reaped (its exit races the pipe): look again soon
  my $n = select(my $rout = $rin, undef, undef, %pending ? 0.02 : 1);
  next if $n <= 0;
  if (vec($rout, fileno(STDIN), 1)) {
    for (;;) {
      my $r = sysread(STDIN, my $chunk, 65536);
      if (!defined $r) {
        next if $! == EINTR;
        last if $! == EAGAIN;
        $r = 0;
      }
      if ($r == 0) { $stdin_open = 0; last }
      $in .= $chunk;
    }
    while ($in =~ s/^([^\n]*)\n//) { command($1) }
  }
  # the ready descriptors, found in C (a regex over the bit string), not by a loop over every child
  my $bits = unpack('b*', $rout);
  while ($bits =~ /1/g) {
    my $pid = $by_fd{ pos($bits) - 1 };
    read_kid($pid) if defined $pid;
  }
}
