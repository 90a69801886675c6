// The tarmac:check world's exports for the resolv-conf plugin: describe, validate-config and
// check, turning resolv_conf.c's parse into findings.
//
// Ownership follows wit-bindgen's C conventions: arguments belong to us (freed before
// returning); everything returned is malloc'ed and freed by the generated cabi_post_* glue.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "resolv_conf.h"
#include "settings.h"

#define PLUGIN_ID "site.resolv-conf"
#define CHECK_COUNT PLUGIN_ID ".nameservers"
#define CHECK_LOOPBACK PLUGIN_ID ".loopback"
#define RESOLV_PATH "/etc/resolv.conf"

// A malloc'ed, printf-formatted WIT string. On allocation failure the string is empty: a
// shorter message beats a trap.
static plugin_string_t text(const char *format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsnprintf(NULL, 0, format, args);
  va_end(args);
  plugin_string_t out = {NULL, 0};
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf != NULL) {
    va_start(args, format);
    vsnprintf(buf, (size_t)n + 1, format, args);
    va_end(args);
    out.ptr = (uint8_t *)buf;
    out.len = (size_t)n;
  }
  return out;
}

static plugin_list_string_t strings(const char *const *items, size_t n) {
  plugin_list_string_t list = {calloc(n, sizeof(plugin_string_t)), n};
  if (list.ptr == NULL) {
    list.len = 0;
  }
  for (size_t i = 0; i < list.len; i++) {
    list.ptr[i] = text("%s", items[i]);
  }
  return list;
}

void exports_plugin_describe(plugin_metadata_t *ret) {
  static const char *const files[] = {RESOLV_PATH};
  ret->id = text(PLUGIN_ID);
  ret->name = text("resolv.conf name servers kubelet can use");
  ret->version = text("0.1.0");
  ret->description = text(
      "At most 3 (or the configured number of) nameserver lines in " RESOLV_PATH
      ", since glibc and kubelet ignore the rest, and no loopback name server that pods "
      "would inherit but cannot reach.");
  ret->scope = TARMAC_CHECK_TYPES_SCOPE_NODE;
  ret->requirements.files = strings(files, 1);
  ret->requirements.sysctls = (plugin_list_string_t){NULL, 0};
  ret->requirements.commands = (tarmac_check_types_list_command_request_t){NULL, 0};
}

// Parses the config, or fills `err` with why not.
static bool read_settings(const plugin_string_t *config, settings_t *out, plugin_string_t *err) {
  char message[160];
  if (settings_parse((const char *)config->ptr, config->len, out, message, sizeof message)) {
    return true;
  }
  *err = text("%s", message);
  return false;
}

bool exports_plugin_validate_config(plugin_string_t *config, plugin_string_t *err) {
  settings_t settings;
  bool ok = read_settings(config, &settings, err);
  plugin_string_free(config);
  return ok;
}

// Findings are built in a fixed-capacity list: two per node.
typedef struct {
  plugin_list_finding_t list;
  size_t capacity;
} findings_t;

static tarmac_check_types_detail_t detail(const char *key, plugin_string_t value_json) {
  return (tarmac_check_types_detail_t){text("%s", key), value_json};
}

static plugin_finding_t *add(findings_t *f, const char *check, const plugin_node_facts_t *node,
                             tarmac_check_types_status_t status) {
  if (f->list.len == f->capacity) {
    return NULL;
  }
  plugin_finding_t *out = &f->list.ptr[f->list.len++];
  memset(out, 0, sizeof(*out));
  out->check = text("%s", check);
  out->node.is_some = true;
  out->node.val = text("%.*s", (int)node->name.len, (const char *)node->name.ptr);
  out->status = status;
  return out;
}

static void set(plugin_finding_t *f, plugin_string_t message, plugin_string_t remediation) {
  if (f != NULL) {
    f->message = message;
    f->remediation = remediation;
  } else {
    plugin_string_free(&message);
    plugin_string_free(&remediation);
  }
}

// Both checks get the same verdict when the file itself is the problem.
static void both(findings_t *f, const plugin_node_facts_t *node,
                 tarmac_check_types_status_t status, const char *message, const char *fix) {
  set(add(f, CHECK_COUNT, node, status), text("%s", message), text("%s", fix));
  set(add(f, CHECK_LOOPBACK, node, status), text("%s", message), text("%s", fix));
}

// The addresses as a JSON array; addresses hold no quotes or backslashes in any valid file,
// but a broken one might, so those are escaped.
static plugin_string_t addresses_json(const resolv_nameservers_t *ns) {
  char buf[RESOLV_KEPT_NAMESERVERS * (RESOLV_ADDRESS_MAX * 2 + 3) + 3];
  size_t n = 0;
  buf[n++] = '[';
  for (size_t i = 0; i < ns->kept; i++) {
    if (i > 0) buf[n++] = ',';
    buf[n++] = '"';
    for (const char *c = ns->addresses[i]; *c; c++) {
      if (*c == '"' || *c == '\\') buf[n++] = '\\';
      buf[n++] = ((unsigned char)*c < 0x20) ? '?' : *c;
    }
    buf[n++] = '"';
  }
  buf[n++] = ']';
  buf[n] = '\0';
  return text("%s", buf);
}

static void judge_count(findings_t *f, const plugin_node_facts_t *node,
                        const resolv_nameservers_t *ns, const settings_t *s) {
  plugin_finding_t *out;
  if (ns->count > s->max_nameservers) {
    out = add(f, CHECK_COUNT, node, TARMAC_CHECK_TYPES_STATUS_FAIL);
    set(out,
        text("%zu nameserver lines in " RESOLV_PATH ", at most %u allowed: the resolver and "
             "kubelet use only the first %d",
             ns->count, s->max_nameservers, RESOLV_GLIBC_MAX_NAMESERVERS),
        text("keep at most %u nameserver lines in " RESOLV_PATH
             " (or point kubelet's resolvConf at a file that does)",
             s->max_nameservers));
  } else if (ns->count == 0) {
    out = add(f, CHECK_COUNT, node, TARMAC_CHECK_TYPES_STATUS_WARN);
    set(out, text("no nameserver line in " RESOLV_PATH ": the resolver falls back to 127.0.0.1"),
        text("add the site's name servers to " RESOLV_PATH));
  } else {
    out = add(f, CHECK_COUNT, node, TARMAC_CHECK_TYPES_STATUS_PASS);
    set(out, text("%zu nameserver line(s) in " RESOLV_PATH ", at most %u allowed", ns->count,
                  s->max_nameservers),
        text(""));
  }
  if (out != NULL) {
    out->details.ptr = calloc(3, sizeof(tarmac_check_types_detail_t));
    if (out->details.ptr != NULL) {
      out->details.len = 3;
      out->details.ptr[0] = detail("nameservers", addresses_json(ns));
      out->details.ptr[1] = detail("count", text("%zu", ns->count));
      out->details.ptr[2] = detail("max", text("%u", s->max_nameservers));
    }
  }
}

static void judge_loopback(findings_t *f, const plugin_node_facts_t *node,
                           const resolv_nameservers_t *ns, const settings_t *s) {
  if (ns->first_loopback < 0) {
    set(add(f, CHECK_LOOPBACK, node, TARMAC_CHECK_TYPES_STATUS_PASS),
        text("no loopback name server in " RESOLV_PATH), text(""));
    return;
  }
  const char *address = ns->addresses[ns->first_loopback];
  if (s->allow_loopback) {
    set(add(f, CHECK_LOOPBACK, node, TARMAC_CHECK_TYPES_STATUS_PASS),
        text("loopback name server %s allowed by config (allow_loopback)", address), text(""));
    return;
  }
  set(add(f, CHECK_LOOPBACK, node, TARMAC_CHECK_TYPES_STATUS_WARN),
      text("name server %s is a loopback address: pods inheriting " RESOLV_PATH
           " cannot reach it, and CoreDNS forwarding to it loops",
           address),
      text("point kubelet's resolvConf at the upstream list (with systemd-resolved: "
           "/run/systemd/resolve/resolv.conf), or set allow_loopback if that is done"));
}

static const tarmac_check_types_file_content_t *find_file(const plugin_node_facts_t *node) {
  for (size_t i = 0; i < node->files.len; i++) {
    const plugin_string_t *path = &node->files.ptr[i].path;
    if (path->len == strlen(RESOLV_PATH) && memcmp(path->ptr, RESOLV_PATH, path->len) == 0) {
      return &node->files.ptr[i];
    }
  }
  return NULL;
}

static void judge(findings_t *f, const plugin_node_facts_t *node, const settings_t *s) {
  const tarmac_check_types_file_content_t *file = find_file(node);
  if (file == NULL) {
    both(f, node, TARMAC_CHECK_TYPES_STATUS_ERROR, RESOLV_PATH " was not gathered for this node", "");
  } else if (!file->exists) {
    both(f, node, TARMAC_CHECK_TYPES_STATUS_FAIL,
         RESOLV_PATH " does not exist: pod sandboxes fail to start with kubelet's default resolvConf",
         "create " RESOLV_PATH " with the site's name servers");
  } else if (file->error.is_some) {
    set(add(f, CHECK_COUNT, node, TARMAC_CHECK_TYPES_STATUS_ERROR),
        text(RESOLV_PATH " could not be read: %.*s", (int)file->error.val.len,
             (const char *)file->error.val.ptr),
        text(""));
    set(add(f, CHECK_LOOPBACK, node, TARMAC_CHECK_TYPES_STATUS_ERROR),
        text(RESOLV_PATH " could not be read"), text(""));
  } else if (file->truncated) {
    both(f, node, TARMAC_CHECK_TYPES_STATUS_ERROR, RESOLV_PATH " is larger than tarmac reads (64 KiB)", "");
  } else {
    resolv_nameservers_t ns;
    resolv_parse((const char *)file->content.ptr, file->content.len, &ns);
    plugin_string_t line = text("%.*s: %zu nameserver(s)", (int)node->name.len,
                                (const char *)node->name.ptr, ns.count);
    tarmac_check_host_log(TARMAC_CHECK_TYPES_LOG_LEVEL_DEBUG, &line);
    plugin_string_free(&line);
    judge_count(f, node, &ns, s);
    judge_loopback(f, node, &ns, s);
  }
}

bool exports_plugin_check(plugin_list_node_facts_t *nodes, plugin_string_t *config,
                          plugin_list_finding_t *ret, plugin_string_t *err) {
  settings_t settings;
  bool ok = read_settings(config, &settings, err);
  findings_t f = {{NULL, 0}, 0};
  if (ok) {
    f.capacity = nodes->len * 2;
    f.list.ptr = calloc(f.capacity ? f.capacity : 1, sizeof(plugin_finding_t));
    if (f.list.ptr == NULL) {
      *err = text("out of memory for %zu findings", f.capacity);
      ok = false;
    }
  }
  for (size_t i = 0; ok && i < nodes->len; i++) {
    judge(&f, &nodes->ptr[i], &settings);
  }
  *ret = f.list;
  plugin_list_node_facts_free(nodes);
  plugin_string_free(config);
  return ok;
}
