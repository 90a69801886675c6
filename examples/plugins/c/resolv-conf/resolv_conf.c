// Parses resolv.conf the way glibc's res_init does, for the name server lines only.
#include "resolv_conf.h"

#include <string.h>

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Handles one line (without its newline). glibc matches the keyword only at the start of the
// line followed by a blank, so an indented `nameserver` is ignored by the resolver and here.
static void parse_line(const char *line, size_t len, resolv_nameservers_t *out) {
  static const char keyword[] = "nameserver";
  const size_t klen = sizeof(keyword) - 1;
  if (len <= klen || memcmp(line, keyword, klen) != 0 || !is_blank(line[klen])) {
    return;
  }
  size_t start = klen;
  while (start < len && is_blank(line[start])) {
    start++;
  }
  size_t end = start;
  while (end < len && !is_blank(line[end]) && line[end] != '#' && line[end] != ';') {
    end++;
  }
  if (end == start) {
    return;  // `nameserver` with no address: the resolver skips it too.
  }
  out->count++;
  if (out->kept == RESOLV_KEPT_NAMESERVERS) {
    return;
  }
  size_t n = end - start;
  if (n >= RESOLV_ADDRESS_MAX) {
    n = RESOLV_ADDRESS_MAX - 1;
  }
  char *slot = out->addresses[out->kept];
  memcpy(slot, line + start, n);
  slot[n] = '\0';
  if (out->first_loopback < 0 && resolv_is_loopback(slot)) {
    out->first_loopback = (int)out->kept;
  }
  out->kept++;
}

void resolv_parse(const char *text, size_t len, resolv_nameservers_t *out) {
  memset(out, 0, sizeof(*out));
  out->first_loopback = -1;
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t next = nl ? (size_t)(nl - text) + 1 : len;
    size_t line_len = (nl ? (size_t)(nl - text) : len) - pos;
    if (line_len > 0 && text[pos + line_len - 1] == '\r') {
      line_len--;
    }
    parse_line(text + pos, line_len, out);
    pos = next;
  }
}

bool resolv_is_loopback(const char *address) {
  return strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0 ||
         strcmp(address, "0:0:0:0:0:0:0:1") == 0;
}
