/*
 * reprise.c - C guest SDK for Reprise, guest ABI v1. See reprise.h.
 */
#include "reprise.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Errors ---- */

const char *reprise_error_name(int code) {
	switch (code) {
	case REPRISE_OK: return "ok";
	case REPRISE_ERR_BAD_HANDLE: return "bad handle";
	case REPRISE_ERR_BAD_MEMORY: return "bad memory";
	case REPRISE_ERR_TOO_LARGE: return "too large";
	case REPRISE_ERR_BAD_ARGUMENT: return "bad argument";
	case REPRISE_ERR_NOT_SETTLED: return "not settled";
	case REPRISE_ERR_LIMIT: return "limit";
	case REPRISE_ERR_ALREADY_SET: return "already set";
	case REPRISE_ERR_DISABLED: return "disabled";
	}
	return "unknown error";
}

const char *reprise_state_name(int state) {
	switch (state) {
	case REPRISE_RESOLVED: return "resolved";
	case REPRISE_REJECTED: return "rejected";
	case REPRISE_CANCELED: return "canceled";
	case REPRISE_TIMEDOUT: return "timedout";
	}
	return "unknown";
}

/* Logs "reprise: <op>: <what>" at error level and traps. */
__attribute__((noreturn, noinline)) static void fatal(const char *op, const char *what) {
	char msg[160];
	size_t n = 0;
	const char *parts[] = {"reprise: ", op, ": ", what};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		for (const char *s = parts[i]; *s && n < sizeof msg; s++)
			msg[n++] = *s;
	reprise_host_log(REPRISE_ERROR, msg, (int32_t)n);
	__builtin_trap();
}

/* Traps on the codes that can only mean a bug in the guest; returns the others. */
static int32_t check(const char *op, int32_t code) {
	switch (code) {
	case REPRISE_ERR_BAD_HANDLE:
	case REPRISE_ERR_BAD_MEMORY:
	case REPRISE_ERR_BAD_ARGUMENT:
	case REPRISE_ERR_ALREADY_SET:
		fatal(op, reprise_error_name(code));
	}
	return code;
}

static void *xmalloc(size_t n) {
	void *p = malloc(n);
	if (!p)
		fatal("malloc", "out of memory");
	return p;
}

/* Length-then-copy: call(cap 0) for the length, allocate, call again. Returns
 * NULL (and the code in *err) if the first call fails. */
typedef int32_t (*read_fn)(int32_t arg, void *buf, int32_t cap);

static uint8_t *read_bytes(const char *op, read_fn call, int32_t arg, size_t *len, int32_t *err) {
	int32_t n = check(op, call(arg, NULL, 0));
	if (n < 0) {
		if (err) *err = n;
		if (len) *len = 0;
		return NULL;
	}
	uint8_t *b = xmalloc((size_t)n + 1);
	if (n > 0 && check(op, call(arg, b, n)) != n)
		fatal(op, "length changed");
	b[n] = 0;
	if (len) *len = (size_t)n;
	return b;
}

static int32_t input_fn(int32_t arg, void *buf, int32_t cap) {
	(void)arg;
	return reprise_host_input(buf, cap);
}

/* ---- Input and outcome ---- */

uint8_t *reprise_input(size_t *len) {
	return read_bytes("input", input_fn, 0, len, NULL);
}

int reprise_resolve(const void *data, size_t len) {
	return check("resolve", reprise_host_resolve(data, (int32_t)len));
}

int reprise_resolve_str(const char *s) {
	return reprise_resolve(s, strlen(s));
}

int reprise_reject(const void *data, size_t len) {
	return check("reject", reprise_host_reject(data, (int32_t)len));
}

int reprise_reject_error(const char *message) {
	size_t qn;
	char *q = reprise_json_quote(message, strlen(message), &qn);
	char *v = xmalloc(qn + 11);
	memcpy(v, "{\"error\":", 9);
	memcpy(v + 9, q, qn);
	v[9 + qn] = '}';
	int rc = reprise_reject(v, qn + 10);
	free(q);
	free(v);
	return rc;
}

/* ---- Promises ---- */

reprise_promise reprise_invoke(const char *name, const void *args, size_t args_len) {
	return check("invoke", reprise_host_invoke(name, (int32_t)strlen(name), args, (int32_t)args_len));
}

reprise_promise reprise_sleep(int64_t duration_ns) {
	return check("sleep", reprise_host_sleep(duration_ns));
}

reprise_promise reprise_new_promise(int64_t timeout_ns) {
	return check("promise", reprise_host_promise(timeout_ns));
}

reprise_promise reprise_http(const void *req_json, size_t len) {
	return check("http", reprise_host_http(req_json, (int32_t)len));
}

reprise_state reprise_await(reprise_promise p) {
	int32_t s = check("await", reprise_host_await(p));
	if (s < REPRISE_RESOLVED || s > REPRISE_TIMEDOUT)
		fatal("await", "unexpected result");
	return (reprise_state)s;
}

size_t reprise_await_any(const reprise_promise *ps, size_t n) {
	int32_t i = check("await_any", reprise_host_await_any(ps, (int32_t)n));
	if (i < 0 || (size_t)i >= n)
		fatal("await_any", "unexpected result");
	return (size_t)i;
}

uint8_t *reprise_value(reprise_promise p, size_t *len) {
	return read_bytes("value", reprise_host_value, p, len, NULL);
}

reprise_state reprise_await_value(reprise_promise p, uint8_t **value, size_t *len) {
	reprise_state s = reprise_await(p);
	if (value) {
		*value = reprise_value(p, len);
		if (!*value)
			fatal("value", "not settled");
	}
	return s;
}

char *reprise_promise_id(reprise_promise p) {
	return (char *)read_bytes("promise_id", reprise_host_promise_id, p, NULL, NULL);
}

/* ---- Time, randomness, logs ---- */

int64_t reprise_now(void) {
	return reprise_host_now();
}

int reprise_random(void *buf, size_t len) {
	uint8_t *b = buf;
	while (len > 0) {
		size_t n = len > 4096 ? 4096 : len;
		int32_t rc = check("random", reprise_host_random(b, (int32_t)n));
		if (rc < 0)
			return rc;
		b += n;
		len -= n;
	}
	return 0;
}

void reprise_log_bytes(reprise_level level, const void *msg, size_t len) {
	reprise_host_log(level, msg, (int32_t)len);
}

void reprise_log(reprise_level level, const char *msg) {
	reprise_host_log(level, msg, (int32_t)strlen(msg));
}

void reprise_logf(reprise_level level, const char *fmt, ...) {
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		reprise_host_log(level, small, n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	reprise_host_log(level, big, n);
	free(big);
}

/* ---- base64 (standard alphabet, padded) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *reprise_base64_encode(const void *data, size_t len) {
	const uint8_t *s = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[v >> 12 & 63];
		*o++ = b64[v >> 6 & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = 0;
	return out;
}

static int b64val(char c) {
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

uint8_t *reprise_base64_decode(const char *s, size_t slen, size_t *len) {
	if (slen % 4 != 0)
		return NULL;
	uint8_t *out = xmalloc(slen / 4 * 3 + 1);
	size_t n = 0;
	for (size_t i = 0; i < slen; i += 4) {
		int pad = 0;
		uint32_t v = 0;
		for (int j = 0; j < 4; j++) {
			int d;
			if (s[i + j] == '=' && i + 4 == slen && j >= 2 && (j == 3 || s[i + 3] == '=')) {
				pad++;
				d = 0;
			} else if ((d = b64val(s[i + j])) < 0 || pad) {
				free(out);
				return NULL;
			}
			v = v << 6 | (uint32_t)d;
		}
		out[n++] = (uint8_t)(v >> 16);
		if (pad < 2) out[n++] = (uint8_t)(v >> 8);
		if (pad < 1) out[n++] = (uint8_t)v;
	}
	out[n] = 0;
	if (len) *len = n;
	return out;
}

/* ---- JSON strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid;
 * the code point in *r. Rejects overlong forms, surrogates and > U+10FFFF. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *r) {
	uint8_t c = s[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		*r = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		*r = c & 0x0F;
		if (c == 0xE0) lo = 0xA0;
		if (c == 0xED) hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		*r = c & 0x07;
		if (c == 0xF0) lo = 0x90;
		if (c == 0xF4) hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		uint8_t b = s[i];
		if (b < lo || b > hi)
			return 0;
		lo = 0x80, hi = 0xBF;
		*r = *r << 6 | (b & 0x3F);
	}
	return len;
}

char *reprise_json_quote(const void *data, size_t len, size_t *out_len) {
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = data;
	char *out = xmalloc(len * 6 + 3); /* worst case: every byte as \uXXXX */
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				out[o++] = (char)c;
				continue;
			}
			out[o++] = '\\';
			switch (c) {
			case '"': case '\\': out[o++] = (char)c; break;
			case '\b': out[o++] = 'b'; break;
			case '\f': out[o++] = 'f'; break;
			case '\n': out[o++] = 'n'; break;
			case '\r': out[o++] = 'r'; break;
			case '\t': out[o++] = 't'; break;
			default:
				out[o++] = 'u', out[o++] = '0', out[o++] = '0';
				out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
			}
			continue;
		}
		uint32_t r;
		size_t n = utf8_decode(s + i, len - i, &r);
		if (n == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (r == 0x2028 || r == 0x2029) {
			memcpy(out + o, r == 0x2028 ? "\\u2028" : "\\u2029", 6);
			o += 6;
			i += n;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o++] = '"';
	out[o] = 0;
	if (out_len) *out_len = o;
	return out;
}
