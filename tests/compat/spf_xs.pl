#!/usr/bin/perl
# spf_xs.pl -- evaluate SPF cases through Mail::SPF_XS (Debian package
# libmail-spf-xs-perl), the Perl binding of libspf2, for tests/compat/run.sh.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: spf_xs.pl < CASES
#
# CASES has one check per line, "ip sender helo" ("<>" for the null
# sender).  The binding has no HELO identity: a null sender is checked as
# the HELO domain itself (libspf2 then checks postmaster@HELO), and the
# HELO name is never given to the library.  For each line it prints one
# tab-separated line: the result (SPF_strresult, "(invalid)" included),
# the reason (SPF_strreason), the error (SPF_strerror of the response's
# error code) and the explanation ("-" when there is none).
#
# Exit status: 0 when every line was evaluated, 1 otherwise; 77 when the
# module is not installed (the test driver turns that into a skip or a
# failure).
use strict;
use warnings;

BEGIN {
    eval { require Mail::SPF_XS; 1 } or do {
        print STDERR "spf_xs.pl: Mail::SPF_XS is not installed"
          . " (Debian: libmail-spf-xs-perl)\n";
        exit 77;
    };
}

# SPF_DNS_CACHE: the resolver stack programs normally use (a cache over
# the system resolver), as Mail::SPF_XS exports it.
my $server = Mail::SPF_XS::Server->new(
    { dnstype => Mail::SPF_XS::SPF_DNS_CACHE(), debug => 0 });
my $status = 0;

sub clean {
    my ($s) = @_;
    return '-' unless defined $s;
    $s =~ s/[\t\r\n]/ /g;
    return $s eq '' ? '""' : $s;
}

while (my $line = <STDIN>) {
    chomp $line;
    next if $line =~ /^\s*(#|$)/;
    my ($ip, $sender, $helo) = split ' ', $line;
    my $identity = $sender eq '<>' ? $helo : $sender;
    my $ok = eval {
        my $request = Mail::SPF_XS::Request->new(
            { ip_address => $ip, identity => $identity });
        my $response = $server->process($request);
        print join("\t", clean($response->code), clean($response->reason),
            clean($response->error), clean($response->explanation)), "\n";
        1;
    };
    if (!$ok) {
        my $err = $@;
        $err =~ s/\s+at \S+ line \d+.*//s;
        print "croak\t", clean($err), "\t-\t-\n";
        $status = 1;
    }
}
exit $status;
