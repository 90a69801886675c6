// A strict little JSON reader for the plugin's flat settings object: no library needed, and
// anything it does not understand is rejected with a message rather than guessed at.
#include "settings.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
  char *error;
  size_t error_len;
} reader_t;

static bool fail(reader_t *r, const char *message) {
  snprintf(r->error, r->error_len, "%s", message);
  return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void skip_space(reader_t *r) {
  while (r->pos < r->len && is_space(r->text[r->pos])) {
    r->pos++;
  }
}

static bool eat(reader_t *r, char c) {
  skip_space(r);
  if (r->pos < r->len && r->text[r->pos] == c) {
    r->pos++;
    return true;
  }
  return false;
}

static bool starts_with(reader_t *r, const char *word) {
  size_t n = strlen(word);
  return r->len - r->pos >= n && memcmp(r->text + r->pos, word, n) == 0;
}

// Reads a key: a string without escapes (no setting name needs one).
static bool read_key(reader_t *r, char *key, size_t key_len) {
  if (!eat(r, '"')) {
    return fail(r, "config: expected a setting name in double quotes");
  }
  size_t start = r->pos;
  while (r->pos < r->len && r->text[r->pos] != '"' && r->text[r->pos] != '\\') {
    r->pos++;
  }
  if (r->pos >= r->len || r->text[r->pos] != '"' || r->pos - start >= key_len) {
    return fail(r, "config: unknown setting; known: max_nameservers, allow_loopback");
  }
  memcpy(key, r->text + start, r->pos - start);
  key[r->pos - start] = '\0';
  r->pos++;
  return true;
}

static bool read_count(reader_t *r, unsigned *out) {
  skip_space(r);
  unsigned long value = 0;
  size_t start = r->pos;
  while (r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9' && value < 1000) {
    value = value * 10 + (unsigned long)(r->text[r->pos] - '0');
    r->pos++;
  }
  char next = r->pos < r->len ? r->text[r->pos] : ' ';
  bool more = (next >= '0' && next <= '9') || next == '.' || next == 'e' || next == 'E';
  if (r->pos == start || more || value < 1 || value > 3) {
    return fail(r, "config: max_nameservers must be a whole number from 1 to 3 (glibc uses at most 3)");
  }
  *out = (unsigned)value;
  return true;
}

static bool read_bool(reader_t *r, bool *out) {
  skip_space(r);
  if (starts_with(r, "true")) {
    r->pos += 4;
    *out = true;
    return true;
  }
  if (starts_with(r, "false")) {
    r->pos += 5;
    *out = false;
    return true;
  }
  return fail(r, "config: allow_loopback must be true or false");
}

static bool read_pair(reader_t *r, settings_t *out) {
  char key[32];
  if (!read_key(r, key, sizeof key)) {
    return false;
  }
  if (!eat(r, ':')) {
    return fail(r, "config: expected ':' after a setting name");
  }
  if (strcmp(key, "max_nameservers") == 0) {
    return read_count(r, &out->max_nameservers);
  }
  if (strcmp(key, "allow_loopback") == 0) {
    return read_bool(r, &out->allow_loopback);
  }
  char message[96];
  snprintf(message, sizeof message, "config: unknown setting \"%s\"; known: max_nameservers, allow_loopback", key);
  return fail(r, message);
}

bool settings_parse(const char *json, size_t len, settings_t *out, char *error, size_t error_len) {
  reader_t r = {json, len, 0, error, error_len};
  out->max_nameservers = 3;
  out->allow_loopback = false;
  skip_space(&r);
  if (r.pos == r.len) {
    return true;
  }
  if (!eat(&r, '{')) {
    return fail(&r, "config must be a JSON object, e.g. {\"max_nameservers\": 2}");
  }
  if (!eat(&r, '}')) {
    do {
      if (!read_pair(&r, out)) {
        return false;
      }
    } while (eat(&r, ','));
    if (!eat(&r, '}')) {
      return fail(&r, "config: expected ',' or '}' after a setting");
    }
  }
  skip_space(&r);
  return r.pos == r.len ? true : fail(&r, "config: unexpected text after the closing '}'");
}
