// What /etc/resolv.conf says about name servers: pure parsing, no WIT types.
#ifndef RESOLV_CONF_H
#define RESOLV_CONF_H

#include <stdbool.h>
#include <stddef.h>

// glibc's MAXNS: the resolver uses the first three `nameserver` lines and ignores the rest,
// and kubelet warns "Nameserver limits exceeded" and drops them from every pod.
#define RESOLV_GLIBC_MAX_NAMESERVERS 3
// Enough to report any realistic file; counting goes on past it.
#define RESOLV_KEPT_NAMESERVERS 16
// Longest address text kept (an IPv6 address with a zone fits).
#define RESOLV_ADDRESS_MAX 64

typedef struct {
  // Every `nameserver` line counted, even past RESOLV_KEPT_NAMESERVERS.
  size_t count;
  // The first addresses, NUL-terminated, in file order.
  char addresses[RESOLV_KEPT_NAMESERVERS][RESOLV_ADDRESS_MAX];
  size_t kept;
  // Index into `addresses` of the first loopback server (127.0.0.0/8 or ::1), or -1.
  // systemd-resolved's stub (127.0.0.53) is the usual one: pods that inherit it cannot
  // reach it, and CoreDNS forwarding to it loops.
  int first_loopback;
} resolv_nameservers_t;

// Reads `nameserver ADDRESS` lines from resolv.conf text of `len` bytes (not NUL-terminated).
// Comments (`#`, `;`) and other keywords are ignored, as the resolver does.
void resolv_parse(const char *text, size_t len, resolv_nameservers_t *out);

// True for 127.0.0.0/8 and ::1 written the usual ways.
bool resolv_is_loopback(const char *address);

#endif
