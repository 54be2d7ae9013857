/*
 * A small MCP server over stdio in C: line-delimited JSON-RPC 2.0, no dependencies.
 *
 * It answers initialize, ping, tools/list and tools/call for one tool, "add", which sums two
 * numbers. The JSON handling is deliberately minimal (it finds top-level fields by name in a
 * single-line message) because the point of this example is the per-architecture bundle, not
 * a JSON library. Messages it cannot parse get a JSON-RPC parse error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (1 << 20)

/* Copy the raw JSON value of "key" (a number, string or literal) into out; 0 if absent. */
static int raw_field(const char *msg, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(msg, pattern);
    if (!p) return 0;
    p += strlen(pattern);
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ':') return 0;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    const char *start = p;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') p += (*p == '\\' && p[1]) ? 2 : 1;
        if (*p == '"') p++;
    } else {
        while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ') p++;
    }
    size_t n = (size_t)(p - start);
    if (n == 0 || n >= cap) return 0;
    memcpy(out, start, n);
    out[n] = '\0';
    return 1;
}

static void reply(const char *id, const char *result) {
    printf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}\n", id, result);
    fflush(stdout);
}

static void error(const char *id, int code, const char *message) {
    printf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":\"%s\"}}\n",
           id, code, message);
    fflush(stdout);
}

static const char *TOOLS =
    "{\"tools\":[{\"name\":\"add\",\"description\":\"Add two numbers a and b.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
    "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}}]}";

static void call_tool(const char *id, const char *msg) {
    char name[64], a[64], b[64], text[256];
    if (!raw_field(msg, "name", name, sizeof name) || strcmp(name, "\"add\"") != 0) {
        error(id, -32602, "unknown tool");
        return;
    }
    if (!raw_field(msg, "a", a, sizeof a) || !raw_field(msg, "b", b, sizeof b)) {
        error(id, -32602, "add needs numbers a and b");
        return;
    }
    snprintf(text, sizeof text,
             "{\"content\":[{\"type\":\"text\",\"text\":\"%g\"}],\"isError\":false}",
             strtod(a, NULL) + strtod(b, NULL));
    reply(id, text);
}

int main(void) {
    static char line[MAX_LINE];
    char id[128], method[128], version[64], result[512];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '\n') continue;
        if (!raw_field(line, "method", method, sizeof method)) {
            if (!strstr(line, "\"result\"") && !strstr(line, "\"error\""))
                error("null", -32700, "parse error");
            continue;
        }
        if (!raw_field(line, "id", id, sizeof id)) continue; /* a notification */
        if (strcmp(method, "\"initialize\"") == 0) {
            if (!raw_field(line, "protocolVersion", version, sizeof version))
                strcpy(version, "\"2025-06-18\"");
            snprintf(result, sizeof result,
                     "{\"protocolVersion\":%s,\"capabilities\":{\"tools\":{}},"
                     "\"serverInfo\":{\"name\":\"c-binary-example\",\"version\":\"1.0.0\"}}",
                     version);
            reply(id, result);
        } else if (strcmp(method, "\"ping\"") == 0) {
            reply(id, "{}");
        } else if (strcmp(method, "\"tools/list\"") == 0) {
            reply(id, TOOLS);
        } else if (strcmp(method, "\"tools/call\"") == 0) {
            call_tool(id, line);
        } else {
            error(id, -32601, "method not found");
        }
    }
    return 0;
}
