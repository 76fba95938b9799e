/*
 * The C conformance guest: every scenario of conformance/CONTRACT.md, with the
 * C SDK (guest-sdk/c). Exports `run` (dispatches on "scenario") and `echo`.
 * JSON is handled by a minimal reader below: enough for the contract's inputs
 * (a flat object of strings and integers) and the host's http responses.
 */
#include <stdlib.h>
#include <string.h>

#include "reprise.h"

/* ---- A growable output buffer ---- */

typedef struct {
	char *p;
	size_t n, cap;
} buf;

static void put(buf *b, const void *s, size_t n) {
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			__builtin_trap();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_int(buf *b, long long v) {
	char d[24];
	int i = sizeof d;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		d[--i] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		d[--i] = '-';
	put(b, d + i, sizeof d - (size_t)i);
}

static void put_quoted(buf *b, const void *s, size_t n) {
	size_t qn;
	char *q = reprise_json_quote(s, n, &qn);
	put(b, q, qn);
	free(q);
}

/* ---- A minimal JSON reader ---- */

typedef struct {
	const char *p, *e;
} span;

static const char *ws(const char *p, const char *e) {
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* End of the JSON value starting at p (after whitespace), or NULL. */
static const char *skip(const char *p, const char *e) {
	p = ws(p, e);
	if (p >= e)
		return NULL;
	if (*p == '"') {
		for (p++; p < e; p++) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				return p + 1;
		}
		return NULL;
	}
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!(p = skip(p, e)) || (p = ws(p, e)) >= e || *p++ != ':')
					return NULL;
			}
			if (!(p = skip(p, e)) || (p = ws(p, e)) >= e)
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	const char *s = p;
	while (p < e && (*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9') ||
	                 (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	return p > s ? p : NULL;
}

/* The raw value of key in the JSON object obj; 0 if absent. */
static int get(span obj, const char *key, span *out) {
	size_t kn = strlen(key);
	const char *p = ws(obj.p, obj.e), *e = obj.e;
	if (p >= e || *p++ != '{')
		return 0;
	p = ws(p, e);
	if (p < e && *p == '}')
		return 0;
	for (;;) {
		const char *k = ws(p, e), *ke = skip(k, e);
		if (!ke || (p = ws(ke, e)) >= e || *p++ != ':')
			return 0;
		const char *v = ws(p, e), *ve = skip(v, e);
		if (!ve)
			return 0;
		if (*k == '"' && (size_t)(ke - k) == kn + 2 && memcmp(k + 1, key, kn) == 0) {
			out->p = v, out->e = ve;
			return 1;
		}
		if ((p = ws(ve, e)) >= e || *p++ != ',')
			return 0;
	}
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int hex4(const char *p, const char *e) {
	if (e - p < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static void put_utf8(buf *b, unsigned r) {
	char u[4];
	size_t n;
	if (r < 0x80)
		u[0] = (char)r, n = 1;
	else if (r < 0x800)
		u[0] = (char)(0xC0 | r >> 6), u[1] = (char)(0x80 | (r & 63)), n = 2;
	else if (r < 0x10000)
		u[0] = (char)(0xE0 | r >> 12), u[1] = (char)(0x80 | (r >> 6 & 63)), u[2] = (char)(0x80 | (r & 63)), n = 3;
	else
		u[0] = (char)(0xF0 | r >> 18), u[1] = (char)(0x80 | (r >> 12 & 63)), u[2] = (char)(0x80 | (r >> 6 & 63)),
		u[3] = (char)(0x80 | (r & 63)), n = 4;
	put(b, u, n);
}

/* The decoded string value of key (malloc'd, NUL-terminated, length in *n);
 * NULL if absent or not a string. */
static char *get_str(span obj, const char *key, size_t *n) {
	span v;
	if (!get(obj, key, &v) || *v.p != '"')
		return NULL;
	buf b = {0};
	put(&b, "", 0);
	for (const char *p = v.p + 1, *e = v.e - 1; p < e; p++) {
		if (*p != '\\') {
			put(&b, p, 1);
			continue;
		}
		switch (*++p) {
		case 'b': put(&b, "\b", 1); break;
		case 'f': put(&b, "\f", 1); break;
		case 'n': put(&b, "\n", 1); break;
		case 'r': put(&b, "\r", 1); break;
		case 't': put(&b, "\t", 1); break;
		case 'u': {
			int r = hex4(p + 1, e);
			if (r < 0)
				break;
			p += 4;
			if (r >= 0xD800 && r < 0xDC00 && e - p >= 7 && p[1] == '\\' && p[2] == 'u') {
				int lo = hex4(p + 3, e);
				if (lo >= 0xDC00 && lo < 0xE000) {
					r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				}
			}
			if (r >= 0xD800 && r < 0xE000)
				r = 0xFFFD;
			put_utf8(&b, (unsigned)r);
			break;
		}
		default: put(&b, p, 1); /* \" \\ \/ */
		}
	}
	if (n)
		*n = b.n;
	return b.p;
}

/* The JSON integer at v.p (leading whitespace allowed), or def. */
static long long parse_int(span v, long long def) {
	const char *p = ws(v.p, v.e);
	int neg = p < v.e && *p == '-';
	if (neg)
		p++;
	if (p >= v.e || *p < '0' || *p > '9')
		return def;
	long long x = 0;
	for (; p < v.e && *p >= '0' && *p <= '9'; p++)
		x = x * 10 + (*p - '0');
	return neg ? -x : x;
}

/* The integer value of key, or def. */
static long long get_int(span obj, const char *key, long long def) {
	span v;
	return get(obj, key, &v) ? parse_int(v, def) : def;
}

/* ---- Outcomes ---- */

static void resolve_buf(buf *b) {
	reprise_resolve(b->p, b->n);
	free(b->p);
}

/* Rejects with the value of a promise that did not resolve. */
static void reject_with(reprise_promise p) {
	size_t n;
	uint8_t *v = reprise_value(p, &n);
	reprise_reject(v, n);
	free(v);
}

/* ---- Scenarios ---- */

static void hello(span in) {
	size_t n;
	char *name = get_str(in, "name", &n);
	buf b = {0};
	puts_(&b, "{\"greeting\":");
	buf g = {0};
	puts_(&g, "Hello, ");
	if (name && n > 0)
		put(&g, name, n);
	else
		puts_(&g, "world");
	puts_(&g, "!");
	put_quoted(&b, g.p, g.n);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void square(span in) {
	long long k = get_int(in, "n", 0);
	buf b = {0};
	put_int(&b, k * k);
	resolve_buf(&b);
}

static void steps(span in) {
	long long n = get_int(in, "n", 0);
	for (long long i = 0; i < n; i++)
		reprise_now();
	buf b = {0};
	puts_(&b, "{\"steps\":");
	put_int(&b, n);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void fanout(span in) {
	long long n = get_int(in, "n", 0);
	char *self = get_str(in, "self", NULL);
	if (!self || n < 0) {
		reprise_reject_error("fanout: bad input");
		return;
	}
	reprise_promise *h = malloc(sizeof *h * (size_t)(n + 1));
	for (long long i = 1; i <= n; i++) {
		buf a = {0};
		puts_(&a, "{\"scenario\":\"square\",\"n\":");
		put_int(&a, i);
		puts_(&a, "}");
		h[i - 1] = reprise_invoke(self, a.p, a.n);
		free(a.p);
		if (h[i - 1] < 0) {
			reprise_reject_error(reprise_error_name(h[i - 1]));
			return;
		}
	}
	long long sum = 0;
	for (long long i = 0; i < n; i++) {
		uint8_t *v;
		size_t vn;
		if (reprise_await_value(h[i], &v, &vn) != REPRISE_RESOLVED) {
			reprise_reject(v, vn);
			return;
		}
		sum += parse_int((span){(char *)v, (char *)v + vn}, 0);
		free(v);
	}
	buf b = {0};
	puts_(&b, "{\"sum\":");
	put_int(&b, sum);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void race(span in) {
	reprise_promise h[2];
	h[0] = reprise_sleep(REPRISE_MS(get_int(in, "a_ms", 0)));
	h[1] = reprise_sleep(REPRISE_MS(get_int(in, "b_ms", 0)));
	size_t w = reprise_await_any(h, 2);
	buf b = {0};
	puts_(&b, "{\"winner\":");
	put_int(&b, (long long)w);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void sleep_(span in) {
	int64_t t0 = reprise_now();
	reprise_await(reprise_sleep(REPRISE_MS(get_int(in, "ms", 0))));
	int64_t t1 = reprise_now();
	buf b = {0};
	puts_(&b, "{\"slept_ms\":");
	put_int(&b, (t1 - t0) / 1000000);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void external(span in) {
	reprise_promise h = reprise_new_promise(REPRISE_MS(get_int(in, "timeout_ms", 0)));
	char *id = reprise_promise_id(h);
	buf m = {0};
	puts_(&m, "waiting for ");
	puts_(&m, id);
	reprise_log_bytes(REPRISE_INFO, m.p, m.n);
	uint8_t *v;
	size_t vn;
	reprise_state s = reprise_await_value(h, &v, &vn);
	buf b = {0};
	puts_(&b, "{\"state\":\"");
	puts_(&b, reprise_state_name(s));
	puts_(&b, "\",\"value\":");
	put_quoted(&b, v, vn);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void http(span in) {
	size_t un;
	char *url = get_str(in, "url", &un);
	if (!url) {
		reprise_reject_error("http: no url");
		return;
	}
	buf r = {0};
	puts_(&r, "{\"method\":\"GET\",\"url\":");
	put_quoted(&r, url, un);
	puts_(&r, "}");
	reprise_promise h = reprise_http(r.p, r.n);
	uint8_t *v;
	size_t vn;
	if (reprise_await_value(h, &v, &vn) != REPRISE_RESOLVED) {
		reprise_reject(v, vn);
		return;
	}
	span resp = {(char *)v, (char *)v + vn};
	size_t b64n, bodyn;
	char *b64 = get_str(resp, "body", &b64n);
	uint8_t *body = b64 ? reprise_base64_decode(b64, b64n, &bodyn) : NULL;
	if (!b64)
		body = (uint8_t *)"", bodyn = 0;
	if (!body) {
		reprise_reject_error("http: bad body");
		return;
	}
	buf b = {0};
	puts_(&b, "{\"status\":");
	put_int(&b, get_int(resp, "status", 0));
	puts_(&b, ",\"body\":");
	put_quoted(&b, body, bodyn);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void fail(span in) {
	size_t n;
	char *msg = get_str(in, "message", &n);
	buf b = {0};
	puts_(&b, "{\"error\":");
	put_quoted(&b, msg ? msg : "", msg ? n : 0);
	puts_(&b, "}");
	reprise_reject(b.p, b.n);
}

static void crash(span in) {
	long long c = get_int(in, "children", 0), steps = get_int(in, "steps", 0);
	long long z = get_int(in, "sleep_ms", 0);
	size_t un;
	char *url = get_str(in, "record_url", &un);
	char *self = get_str(in, "self", NULL);
	if (!url || !self) {
		reprise_reject_error("crash: bad input");
		return;
	}
	for (long long j = 0; j < steps / 2; j++)
		reprise_now();
	long long waves = (c + 9) / 10;
	for (long long k = 0; k < waves; k++) {
		if (k == waves / 2)
			reprise_await(reprise_sleep(REPRISE_MS(z)));
		reprise_promise h[10];
		long long lo = 10 * k + 1, hi = lo + 9 < c ? lo + 9 : c;
		for (long long i = lo; i <= hi; i++) {
			buf a = {0};
			puts_(&a, "{\"scenario\":\"record\",\"i\":");
			put_int(&a, i);
			puts_(&a, ",\"record_url\":");
			put_quoted(&a, url, un);
			puts_(&a, "}");
			h[i - lo] = reprise_invoke(self, a.p, a.n);
			free(a.p);
		}
		for (long long i = lo; i <= hi; i++) {
			if (reprise_await(h[i - lo]) != REPRISE_RESOLVED) {
				reject_with(h[i - lo]);
				return;
			}
		}
		buf m = {0};
		puts_(&m, "wave ");
		put_int(&m, k + 1);
		puts_(&m, " done");
		reprise_log_bytes(REPRISE_INFO, m.p, m.n);
		free(m.p);
	}
	for (long long j = 0; j < steps / 2; j++)
		reprise_now();
	long long sum = 0;
	for (long long i = 1; i <= c; i++)
		sum += i * i;
	buf b = {0};
	puts_(&b, "{\"sum\":");
	put_int(&b, sum);
	puts_(&b, ",\"children\":");
	put_int(&b, c);
	puts_(&b, "}");
	resolve_buf(&b);
}

static void record(span in) {
	long long i = get_int(in, "i", 0);
	size_t un;
	char *url = get_str(in, "record_url", &un);
	if (!url) {
		reprise_reject_error("record: no record_url");
		return;
	}
	uint8_t rnd[8];
	reprise_random(rnd, sizeof rnd);
	char token[17];
	for (int j = 0; j < 8; j++) {
		token[2 * j] = "0123456789abcdef"[rnd[j] >> 4];
		token[2 * j + 1] = "0123456789abcdef"[rnd[j] & 15];
	}
	token[16] = 0;
	char *id = reprise_promise_id(REPRISE_SELF);
	buf body = {0};
	puts_(&body, "{\"id\":");
	put_quoted(&body, id, strlen(id));
	puts_(&body, ",\"token\":\"");
	puts_(&body, token);
	puts_(&body, "\"}");
	char *b64 = reprise_base64_encode(body.p, body.n);
	buf r = {0};
	puts_(&r, "{\"method\":\"POST\",\"url\":");
	put_quoted(&r, url, un);
	puts_(&r, ",\"headers\":{\"content-type\":\"application/json\"},\"body\":\"");
	puts_(&r, b64);
	puts_(&r, "\",\"idempotent\":true}");
	reprise_promise h = reprise_http(r.p, r.n);
	uint8_t *v;
	size_t vn;
	if (reprise_await_value(h, &v, &vn) != REPRISE_RESOLVED) {
		reprise_reject(v, vn);
		return;
	}
	long long status = get_int((span){(char *)v, (char *)v + vn}, "status", 0);
	if (status < 200 || status > 299) {
		buf m = {0};
		puts_(&m, "record: http status ");
		put_int(&m, status);
		reprise_reject_error(m.p);
		return;
	}
	buf b = {0};
	put_int(&b, i * i);
	resolve_buf(&b);
}

REPRISE_ENTRY(run) {
	size_t n;
	char *raw = (char *)reprise_input(&n);
	span in = {raw, raw + n};
	char *s = get_str(in, "scenario", NULL);
	if (!s) s = "";
	if (!strcmp(s, "hello")) hello(in);
	else if (!strcmp(s, "square")) square(in);
	else if (!strcmp(s, "steps")) steps(in);
	else if (!strcmp(s, "fanout")) fanout(in);
	else if (!strcmp(s, "race")) race(in);
	else if (!strcmp(s, "sleep")) sleep_(in);
	else if (!strcmp(s, "external")) external(in);
	else if (!strcmp(s, "http")) http(in);
	else if (!strcmp(s, "fail")) fail(in);
	else if (!strcmp(s, "trap")) __builtin_trap();
	else if (!strcmp(s, "crash")) crash(in);
	else if (!strcmp(s, "record")) record(in);
	else {
		buf m = {0};
		puts_(&m, "unknown scenario: ");
		puts_(&m, s);
		reprise_reject_error(m.p);
	}
}

REPRISE_ENTRY(echo) {
	size_t n;
	uint8_t *in = reprise_input(&n);
	reprise_resolve(in, n);
}
