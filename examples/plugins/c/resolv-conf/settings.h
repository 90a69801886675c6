// The plugin's settings, parsed from the JSON text tarmac hands validate-config and check.
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  // Most `nameserver` lines allowed (1..3); default 3, glibc's limit.
  unsigned max_nameservers;
  // When false (default), a loopback name server such as systemd-resolved's 127.0.0.53 is a
  // warning: pods inheriting it cannot reach it.
  bool allow_loopback;
} settings_t;

// Parses `{"max_nameservers": 2, "allow_loopback": false}` (every key optional; an empty
// text means `{}`). On failure returns false and writes a message naming the bad setting.
bool settings_parse(const char *json, size_t len, settings_t *out, char *error, size_t error_len);

#endif
